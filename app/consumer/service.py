"""`trainq consumer`: the event consumer and the webhook dispatcher in one process."""
from __future__ import annotations

import logging
import signal
import threading

from app.consumer.loop import Consumer
from app.runtime import Runtime
from app.webhooks.dispatcher import Dispatcher
from config.settings import Settings

log = logging.getLogger(__name__)


def run_consumer_service(settings: Settings, name: str | None = None) -> int:
    # force: whatever configured logging on import, these lines carry their time.
    logging.basicConfig(level=settings.log_level, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = Runtime(settings)
    consumer, dispatcher = Consumer(runtime, name), Dispatcher(runtime)
    threads = [threading.Thread(target=part.run, name=name, daemon=True)
               for part, name in ((consumer, "consumer"), (dispatcher, "dispatcher"))]
    done = threading.Event()

    def _stop(signum, _frame):
        log.info("signal %s: stopping after the current batch", signum)
        consumer.stop()
        dispatcher.stop()
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for thread in threads:
        thread.start()
    log.info("consumer %s reading events; dispatcher delivering webhooks", consumer.name)
    done.wait()
    for thread in threads:
        thread.join(timeout=15)
    runtime.close()
    return 0
