"""What wakes the supervisor of a running script: the script's exit, a stop announced for its job
(config.keys.stop_channel, published right after the key that asks it) and a SIGTERM to this
worker (AttemptRun.stop). Each puts a token in the attempt's queue; on every wake the supervisor
re-reads the stop keys, which stay the truth. The queue is a SimpleQueue because its put() is
reentrant, so the SIGTERM handler may call it; Event.set() from a handler can deadlock on the
lock that the interrupted main thread holds inside Event.wait()."""
from __future__ import annotations

import logging
import queue
import subprocess
import threading

from redis import exceptions as redis_errors

from config.keys import stop_channel

log = logging.getLogger(__name__)

#: How long Redis may take to confirm the subscription before the attempt polls instead.
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
#: How long the listener may take to read the reply to its unsubscribe when the attempt ends.
_LISTENER_EXIT_SECONDS = 2.0


class Wakeups:
    """One supervision's sources of wake-ups. Entering subscribes and waits for Redis to confirm,
    so a stop set after that is announced to us, and one set before it is in the keys the caller
    reads next: none falls between. Leaving ends both threads and closes the connection (a
    worker runs thousands of attempts). `listening` is False when announcements cannot reach
    us (pub/sub refused or lost): the caller then polls the keys, as before pub/sub."""

    def __init__(self, tokens: queue.SimpleQueue, redis, job_id: str, proc: subprocess.Popen):
        self.tokens, self.redis, self.job_id, self.proc = tokens, redis, job_id, proc
        self.pubsub = None
        self.listening = self.closing = False
        self.listener: threading.Thread | None = None
        self.exit_waiter = self._thread(self._wait_for_exit, "exit")

    def __enter__(self) -> Wakeups:
        self.listening = self._subscribe()
        self.exit_waiter.start()
        if self.listening:
            self.listener = self._thread(self._listen, "stop")
            self.listener.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.closing = True
        if self.listener is not None:
            self._stop_listening()
        self._close()
        if self.proc.returncode is not None:  # else it ends with the script, whoever reaps it
            self.exit_waiter.join()

    def wait(self, seconds: float) -> None:
        """Until a wake-up or `seconds`; the tokens that piled up go with it (one re-read of
        the keys answers them all)."""
        try:
            self.tokens.get(timeout=max(0.0, seconds))
        except queue.Empty:
            return
        drain(self.tokens)

    def _thread(self, target, what: str) -> threading.Thread:
        return threading.Thread(target=target, name=f"wake-{what}-{self.job_id}", daemon=True)

    def _subscribe(self) -> bool:
        """True once Redis confirmed the subscription; False, logged, to poll instead."""
        why = f"no confirmation within {SUBSCRIBE_TIMEOUT_SECONDS:g}s"
        try:
            self.pubsub = self.redis.pubsub()
            self.pubsub.subscribe(stop_channel(self.job_id))
            reply = self.pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_SECONDS)
            if reply and reply["type"] == "subscribe":
                return True
        except redis_errors.RedisError as exc:
            why = str(exc)
        log.warning("%s: stops are not announced to this worker (%s); it polls for them",
                    self.job_id, why)
        self._close()
        return False

    def _listen(self) -> None:
        """Any message wakes the supervisor: a stop, and also the confirmation of the
        subscription redis-py renews after a reconnect, as a stop may have come meanwhile."""
        try:
            for _ in self.pubsub.listen():
                self.tokens.put(None)
        except Exception as exc:  # whatever ends it, the supervisor must not stay deaf
            if not self.closing:
                log.warning("%s: lost the announcements of stops (%s); polling for them",
                            self.job_id, exc)
        if not self.closing:
            self.listening = False
            self.tokens.put(None)  # so the supervisor starts polling now

    def _wait_for_exit(self) -> None:
        self.proc.wait()
        self.tokens.put(None)

    def _stop_listening(self) -> None:
        """Unsubscribing ends the listener's blocking read with Redis's reply: the clean way
        out (closing the socket under it would have redis-py reconnect)."""
        try:
            self.pubsub.unsubscribe()
        except redis_errors.RedisError:
            pass  # the connection is gone: the listener's read fails and it ends by itself
        self.listener.join(timeout=_LISTENER_EXIT_SECONDS)

    def _close(self) -> None:
        if self.pubsub is not None:
            try:
                self.pubsub.close()
            except redis_errors.RedisError:
                pass  # closing a dead connection: nothing left to give back
            self.pubsub = None


def drain(tokens: queue.SimpleQueue) -> None:
    while True:
        try:
            tokens.get_nowait()
        except queue.Empty:
            return
