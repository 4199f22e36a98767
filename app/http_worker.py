"""The API's gunicorn worker: an event loop reads requests, a thread pool runs the Flask app.

A synchronous worker is held by one socket from accept to response, so two idle connections
(a browser's speculative preconnects) stalled every request until gunicorn's timeout. Here
Tornado reads request lines, headers and bodies without a thread, under bounded timeouts, and
only a complete request takes a thread. The loop also tells the arbiter it is alive every
second, so a slow request never gets its worker killed, nor does a long event stream."""
from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor

from gunicorn.workers.gtornado import TornadoWorker
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback

from app.http_streaming import StreamingWSGIContainer
from config.settings import Settings

#: Well above the API's own 1 MiB limit, so Flask answers an oversized body with its 413 and
#: the client learns why; beyond this, Tornado refuses before reading (a bare 400, then close).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Threads per API process that make event-stream chunks: a poll takes milliseconds and an
#: idle stream holds none, so a few serve hundreds of open streams.
STREAM_THREADS = 4


class ApiWorker(TornadoWorker):
    """gunicorn's Tornado worker with trainq's timeouts and a pool of app threads."""

    def run(self) -> None:
        settings = Settings.from_env()
        logging.getLogger("tornado.access").setLevel(logging.INFO)
        self.ioloop = IOLoop.current()
        self.alive, self.server_alive = True, False
        self.callbacks = [PeriodicCallback(self.watchdog, 1000),
                          PeriodicCallback(self.heartbeat, 1000)]
        for callback in self.callbacks:
            callback.start()
        self.server = self._server(settings)
        self.server_alive = True
        for sock in self.sockets:
            sock.setblocking(False)
            self.server.add_socket(sock)
        # What start-up built (modules, routes, schemas, the mapper) lives as long as the
        # process: frozen, a full collection walks only what requests made. Unfrozen, one read
        # in fifty of a 100,000-step curve paid a 74 ms full collection (benchlib/steps.py).
        gc.freeze()
        self.ioloop.start()

    def _server(self, settings: Settings) -> HTTPServer:
        # Event streams (the dashboard's) are made on threads of their own, and hold one
        # only while they poll (app/http_streaming.py): open streams never starve requests.
        app = StreamingWSGIContainer(
            self.wsgi, ThreadPoolExecutor(settings.api_threads, thread_name_prefix="api"),
            ThreadPoolExecutor(STREAM_THREADS, thread_name_prefix="stream"))
        worker = self

        class _Server(HTTPServer):
            def on_close(self, server_conn):
                worker.handle_request()  # counts requests for gunicorn's max_requests
                super().on_close(server_conn)

        # idle_connection_timeout bounds both a kept-alive connection's silence and the wait
        # for a request's headers; body_timeout bounds a slow upload.
        return _Server(app, no_keep_alive=self.cfg.keepalive <= 0,
                       idle_connection_timeout=settings.api_keepalive_seconds,
                       body_timeout=settings.api_read_timeout_seconds,
                       max_body_size=MAX_BODY_BYTES)
