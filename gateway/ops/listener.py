"""Listening sockets that stay up under slow, numerous or heavy connections.

aiohttp's server has a keep-alive timeout but no deadline for the request headers, none for
the body, no cap on connections and no bound on the bodies held in memory; a TLS handshake
happens before aiohttp even sees the connection. So one `GuardedListener` per listener owns
the listening socket and puts a small protocol (`_Connection`) in front of aiohttp's own:

- it counts a connection from its TCP accept, before any TLS handshake, and closes it at
  once (abort, no lingering) when the listener already holds `max_connections`;
- it does the TLS handshake itself (`loop.start_tls`), under the header deadline, and only
  then hands the connection to aiohttp, so a silent or slow handshake is bounded too;
- a deadline runs from accept, and again from the end of each response, to the end of the
  next request's headers (`header_timeout`, plus `idle_timeout` between requests): the
  middleware, which aiohttp calls once the headers are parsed, cancels it (the same model as
  Go's ReadHeaderTimeout and IdleTimeout);
- a second deadline runs from the end of the headers to the last byte of the body
  (`body_timeout`), whether or not the handler has started reading it;
- the middleware reserves each body's declared length (at most the app's own size limit)
  against `max_body_bytes_in_flight` before the handler may read it, and answers 503 with
  Retry-After when the budget is spent: held bodies cannot grow memory without bound. A
  route that streams its body to storage (`streamed`) reserves only what it holds at once.

Expired and refused connections are counted in `blg_listener_refused_connections_total`
and logged at most once a minute per listener and reason, never with a traceback. The same
goes for accept() failing with EMFILE ("Too many open files"), which asyncio would otherwise
log with a full traceback on every retry: `quiet_accept_errors` turns it into a counted,
rate-limited line, and `raise_open_file_limit` lifts the soft descriptor limit to the hard
one so that the caps, not the kernel, decide.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from gateway.config import ListenerLimits
from gateway.ops.logs import FieldValue, fields, fields_from, route_template
from gateway.ops.metrics import GatewayMetrics

log = logging.getLogger(__name__)

# One line per listener and reason at most this often; the counter has the exact numbers.
LOG_INTERVAL = 60.0
ACCEPT_OUT_OF_RESOURCES = "socket.accept() out of system resource"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _ThrottledLog:
    """Log lines that say how often something happened, at most once per interval each."""

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def note(self, key: str, event: str, details: dict[str, FieldValue]) -> None:
        """Log `event` with `details` and `times`, the count since its last line."""
        self._unlogged[key] = self._unlogged.get(key, 0) + 1
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) >= self._interval:
            count = self._unlogged.pop(key)
            self._last[key] = now
            log.warning(event, extra=fields_from({**details, "times": count}))


class GuardedListener:
    """One listener (federation or local API) serving an aiohttp app under caps and deadlines.

    Create it, give `middleware` to the app as its first middleware, then `start`.
    """

    def __init__(
        self,
        name: str,
        limits: ListenerLimits,
        metrics: GatewayMetrics,
        ssl_context: ssl.SSLContext | None = None,
        *,
        streamed: Mapping[str, int] | None = None,
    ) -> None:
        self.name = name
        self.limits = limits
        # Routes whose handlers stream the body to storage and hold at most this many bytes
        # of it, by route path: they reserve that, not their declared length (an attachment
        # upload of 100 MiB holds 2 MiB, and must not keep envelope batches out).
        self._streamed = dict(streamed or {})
        self._metrics = metrics
        self._ssl_context = ssl_context
        self._connections: set[_Connection] = set()
        self._by_transport: dict[asyncio.BaseTransport, _Connection] = {}
        self._bytes_in_flight = 0
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._max_body = 0
        self._log = _ThrottledLog()
        metrics.listener_connections.labels(name).set(0)
        metrics.listener_body_bytes.labels(name).set(0)

    async def start(self, app: web.Application, host: str, port: int) -> None:
        # aiohttp exposes no getter for the size limit the app was made with.
        self._max_body = app._client_max_size
        self._runner = web.AppRunner(
            app,
            access_log=None,
            keepalive_timeout=self.limits.idle_timeout.total_seconds(),
        )
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True, backlog=1024
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            if connection.handler is None:  # still in its TLS handshake: aiohttp knows nothing
                connection.abort()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- connection bookkeeping, called by _Connection --------------------------------

    def admit(self, connection: _Connection) -> bool:
        if len(self._connections) >= self.limits.max_connections:
            self.refused(
                "connection_limit",
                setting="listen.limits.max_connections",
                limit=self.limits.max_connections,
            )
            return False
        self._connections.add(connection)
        self._metrics.listener_connections.labels(self.name).set(len(self._connections))
        return True

    def attached(self, connection: _Connection, transport: asyncio.BaseTransport) -> None:
        self._by_transport[transport] = connection

    def released(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        if connection.transport is not None:
            self._by_transport.pop(connection.transport, None)
        self._metrics.listener_connections.labels(self.name).set(len(self._connections))

    def refused(self, reason: str, **details: FieldValue) -> None:
        """Count a refused connection or request; `details` name the setting that bounds it."""
        self._metrics.listener_refusals.labels(self.name, reason).inc()
        self._log.note(
            reason, "listener_refused", {"listener": self.name, "reason": reason, **details}
        )

    def new_handler(self) -> asyncio.Protocol:
        assert self._runner is not None
        assert self._runner.server is not None
        handler: asyncio.Protocol = self._runner.server()
        return handler

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    # --- per request ------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = self._by_transport.get(request.transport) if request.transport else None
        if connection is not None:
            connection.request_started(request)
        declared = 0
        if request.body_exists:
            length = request.content_length
            declared = self._max_body if length is None else min(length, self._max_body)
            resource = request.match_info.route.resource
            held = self._streamed.get(resource.canonical) if resource is not None else None
            if held is not None:
                declared = min(declared, held)
        try:
            if self._bytes_in_flight + declared > self.limits.max_body_bytes_in_flight:
                self.refused(
                    "bytes_in_flight",
                    setting="listen.limits.max_body_bytes_in_flight",
                    answer=503,
                )
                busy = web.json_response(
                    {
                        "error": {
                            "code": "server_busy",
                            "message": "too many request bodies in flight; retry later",
                        }
                    },
                    status=503,
                    headers={"Retry-After": "1"},
                )
                busy.force_close()
                return busy
            self._bytes_in_flight += declared
            self._metrics.listener_body_bytes.labels(self.name).set(self._bytes_in_flight)
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as answer:
                status = answer.status
                raise
            except ConnectionError:
                if connection is None or not connection.expired:
                    raise
                # The deadline closed the connection under the handler: nobody to answer,
                # and nothing for the log but the counted, throttled line.
                raise web.HTTPRequestTimeout() from None
            finally:
                self._bytes_in_flight -= declared
                self._metrics.listener_body_bytes.labels(self.name).set(self._bytes_in_flight)
                # The route as declared, never the path as requested (logs.route_template).
                log.debug(
                    "http_request",
                    extra=fields(
                        listener=self.name,
                        method=request.method,
                        route=route_template(request),
                        status=status,
                        ms=round((time.perf_counter() - started) * 1000, 1),
                        # The console's signed-in user (gateway.console.auth puts it there).
                        user=getattr(request.get("user"), "id", None),
                    ),
                )
        finally:
            if connection is not None:
                connection.request_finished()


class _Connection(asyncio.Protocol):
    """One accepted TCP connection: counted, deadlined, TLS-wrapped, then aiohttp's."""

    def __init__(self, listener: GuardedListener) -> None:
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        self.handler: asyncio.Protocol | None = None
        self.transport: asyncio.BaseTransport | None = None
        self._raw: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._pending: list[bytes] = []
        self._handshaking: asyncio.Task[None] | None = None
        self._eof = False
        self._admitted = False
        self._closed = False
        self.expired = False

    # asyncio calls these on the raw connection, then (via its TLS layer) on the plaintext.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._raw = transport
        if not self._listener.admit(self):
            transport.abort()
            return
        self._admitted = True
        self._arm(self._listener.limits.header_timeout.total_seconds(), "header_timeout")
        context = self._listener.ssl_context
        if context is None:
            self._attach(transport)
        else:
            # Kept: the loop holds tasks only weakly.
            self._handshaking = self._loop.create_task(self._handshake(transport, context))

    async def _handshake(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        try:
            secured = await self._loop.start_tls(
                raw,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self._listener.limits.header_timeout.total_seconds(),
            )
        except asyncio.CancelledError:
            raw.abort()
            self._release()
            raise
        except Exception as error:  # every failure ends the same way
            if not self.expired:
                self._listener.refused("tls_handshake", error_type=type(error).__name__)
            raw.abort()
            self._release()
            return
        if self._closed or secured is None:
            return
        self._attach(secured)

    def _attach(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._listener.attached(self, transport)
        self.handler = self._listener.new_handler()
        self.handler.connection_made(transport)
        for data in self._pending:
            self.handler.data_received(data)
        self._pending.clear()
        if self._eof:
            self.handler.eof_received()

    def data_received(self, data: bytes) -> None:
        if self.handler is None:
            # Plaintext that arrived between the end of the handshake and _attach.
            self._pending.append(data)
        else:
            self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        if self.handler is None:
            self._eof = True
            return True
        return self.handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.handler is not None:
            self.handler.connection_lost(exc)
        self._release()

    def pause_writing(self) -> None:
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler is not None:
            self.handler.resume_writing()

    # Deadlines

    def _arm(self, delay: float, reason: str, still_due: Callable[[], bool] | None = None) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(delay, self._expire, reason, still_due)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, reason: str, still_due: Callable[[], bool] | None) -> None:
        self._deadline = None
        if self._closed or (still_due is not None and not still_due()):
            return
        self.expired = True
        limits = self._listener.limits
        setting = "body_timeout" if reason == "body_timeout" else "header_timeout"
        seconds = getattr(limits, setting).total_seconds()
        self._listener.refused(reason, setting=f"listen.limits.{setting}", seconds=seconds)
        self.abort()

    def request_started(self, request: web.BaseRequest) -> None:
        self._disarm()
        content = request.content
        if request.body_exists and not content.is_eof():
            self._arm(
                self._listener.limits.body_timeout.total_seconds(),
                "body_timeout",
                lambda: not content.is_eof(),
            )

    def request_finished(self) -> None:
        if self._closed:
            return
        limits = self._listener.limits
        wait = limits.idle_timeout.total_seconds() + limits.header_timeout.total_seconds()
        self._arm(wait, "header_timeout")

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]
        if self._raw is not None:
            self._raw.abort()

    def _release(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._disarm()
        if self._admitted:
            self._listener.released(self)


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, metrics: GatewayMetrics) -> None:
    """Count and throttle accept() failures for want of descriptors; other errors as before.

    asyncio already stops accepting for a second after such a failure; what it also does is
    log a full traceback each time, which under a connection flood grew the log by 100 MB a
    minute.
    """
    throttled = _ThrottledLog()
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_OUT_OF_RESOURCES:
            error = context.get("exception")
            reason = type(error).__name__ if error is not None else "OSError"
            metrics.listener_refusals.labels("any", "out_of_file_descriptors").inc()
            throttled.note(
                "accept",
                "accept_out_of_resources",
                {
                    "error_type": reason,
                    "error_code": errno.errorcode.get(getattr(error, "errno", None) or 0),
                    "retry_in_s": 1,
                },
            )
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


def check_open_file_limit(limits: ListenerLimits) -> None:
    """Lift the descriptor limit, and warn when it is below what the caps allow for."""
    available = raise_open_file_limit()
    # Two listeners, each at its cap, plus the database pool, log files and some slack.
    wanted = 2 * limits.max_connections + 256
    if available < wanted:
        log.warning(
            "open_file_limit_low",
            extra=fields(
                available=available,
                wanted=wanted,
                setting="listen.limits.max_connections",
                limit=limits.max_connections,
                hint="lower the cap or raise `ulimit -n`",
            ),
        )


def raise_open_file_limit() -> int:
    """Lift the soft limit on open descriptors to the hard one; return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft
