"""Tornado's WSGI container, with responses of type text/event-stream sent as they are made.

Tornado's own WSGIContainer gathers a whole response before it writes a byte, so a stream
would never reach its client. Here an event-stream response is written chunk by chunk: its
chunks are made on a pool of their own (so streams never take the threads of other API
requests), and an empty chunk means "nothing yet": the loop waits IDLE_WAIT_SECONDS without
holding any thread before asking for the next one. Every other response is served exactly as
Tornado's container serves it."""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import Any

import tornado
from tornado import escape, httputil
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.wsgi import WSGIContainer

#: In the WSGI environ: this server waits between a stream's chunks on its event loop, so the
#: app may yield b"" instead of sleeping in its thread (app/ui/streams.py).
IDLE_ON_LOOP = "trainq.idle_on_loop"
#: How long the loop waits after an empty chunk: a stream's polling interval.
IDLE_WAIT_SECONDS = 0.5
EVENT_STREAM = "text/event-stream"

log = logging.getLogger(__name__)


class StreamingWSGIContainer(WSGIContainer):
    def __init__(self, wsgi_application, executor: Executor, stream_executor: Executor):
        super().__init__(wsgi_application, executor=executor)
        self.stream_executor = stream_executor

    def environ(self, request: httputil.HTTPServerRequest) -> dict[str, Any]:
        environ = super().environ(request)
        environ[IDLE_ON_LOOP] = True
        return environ

    async def handle_request(self, request: httputil.HTTPServerRequest) -> None:
        data: dict[str, Any] = {}
        buffered: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            data["status"], data["headers"] = status, headers
            return buffered.append

        loop = IOLoop.current()
        app_response = await loop.run_in_executor(
            self.executor, self.wsgi_application, self.environ(request), start_response)
        if not data:
            raise Exception("WSGI app did not call start_response")
        if _content_type(data["headers"]).startswith(EVENT_STREAM):
            await self._stream(request, data, app_response)
        else:
            body = await self._gather(app_response, self.executor)
            self._write(request, data, b"".join(buffered) + body)
        self._log(int(data["status"].split(" ", 1)[0]), request)

    async def _gather(self, app_response, executor: Executor) -> bytes:
        loop, chunks = IOLoop.current(), []
        try:
            iterator = iter(app_response)
            while (chunk := await loop.run_in_executor(executor, _next, iterator)) is not None:
                chunks.append(chunk)
        finally:
            if hasattr(app_response, "close"):
                app_response.close()
        return b"".join(chunks)

    def _write(self, request, data: dict, body: bytes) -> None:
        """Tornado's WSGIContainer's response, unchanged: a Content-Length and one write."""
        status_code = int(data["status"].split(" ", 1)[0])
        headers = data["headers"]
        names = {k.lower() for k, _ in headers}
        body = escape.utf8(body)
        if status_code != 304:
            if "content-length" not in names:
                headers.append(("Content-Length", str(len(body))))
            if "content-type" not in names:
                headers.append(("Content-Type", "text/html; charset=UTF-8"))
        request.connection.write_headers(_start_line(data), _headers(headers), chunk=body)
        request.connection.finish()

    async def _stream(self, request, data: dict, app_response) -> None:
        """Headers now, without a length (chunked), then each chunk as it is made."""
        loop, connection = IOLoop.current(), request.connection
        connection.write_headers(_start_line(data), _headers(data["headers"]))
        iterator = iter(app_response)
        try:
            while (chunk := await loop.run_in_executor(
                    self.stream_executor, _next, iterator)) is not None:
                if chunk:
                    await connection.write(chunk)
                elif _closed(connection):
                    break  # the client left: stop polling for it
                else:
                    await asyncio.sleep(IDLE_WAIT_SECONDS)
            else:
                connection.finish()
        except StreamClosedError:
            pass  # the client left while we wrote
        except Exception:  # noqa: BLE001 - end this stream only; the client reconnects
            log.exception("event stream failed")
            connection.close()
        finally:
            if hasattr(app_response, "close"):
                await loop.run_in_executor(self.stream_executor, app_response.close)


def _next(iterator) -> bytes | None:
    try:
        return next(iterator)
    except StopIteration:
        return None


def _closed(connection) -> bool:
    stream = getattr(connection, "stream", None)
    return stream is not None and stream.closed()


def _content_type(headers) -> str:
    return next((v.lower() for k, v in headers if k.lower() == "content-type"), "")


def _start_line(data: dict) -> httputil.ResponseStartLine:
    code, reason = data["status"].split(" ", 1)
    return httputil.ResponseStartLine("HTTP/1.1", int(code), reason)


def _headers(headers) -> httputil.HTTPHeaders:
    result = httputil.HTTPHeaders()
    for key, value in headers:
        result.add(key, value)
    if "Server" not in result:
        result.add("Server", f"TornadoServer/{tornado.version}")
    return result
