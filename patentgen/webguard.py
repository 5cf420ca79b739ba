"""The web app's defences, each small and separately testable: security headers, a body-size cap
and time limit, the accepted Host names and a check of forwarded addresses on every request (one
ASGI middleware); a bound on open connections and on the time a client may take to send a
request's head (``guarded_protocol``, uvicorn's h11 protocol extended through asyncio's Protocol
methods only); per-client rate limits; a bounded pool for generation work; and the warning for a server reachable from other machines.

``patentgen.web`` wires them into the app, ``serve.py`` into uvicorn; the values come from
``serve.py``'s flags (``Limits.from_args``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

log = logging.getLogger("patentgen.web")

# Only the app's own scripts, styles, images and API; no framing, no referrer, no MIME sniffing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers without CSP level 2
    (b"referrer-policy", b"no-referrer"),
]


@dataclass(frozen=True)
class Limits:
    """Every limit and defence setting of the web app; ``None`` for a rate turns that limit off."""

    max_body: int = 64 * 1024  # bytes in a request body
    workers: int = 1  # threads that generate and score
    queue: int = 64  # generation requests that may wait for a worker; more get 503
    rounds_rate: str | None = "30/minute"  # new rounds per client address (the syntax of the `limits` package)
    guesses_rate: str | None = "30/minute"
    generate_rate: str | None = "10/minute;100/hour"  # /api/generate and /api/score together
    round_pool: int = 300  # prepared rounds kept ready
    round_reuse: int = 20  # players a prepared round is dealt to before it is replaced
    keep_days: float | None = 30.0  # rounds nobody guessed are forgotten after this; None keeps them
    request_timeout: float = 10.0  # seconds a client may take to send a request's head, and its body
    max_connections: int = 256  # open connections; more are answered 503 and closed at once
    keep_alive: float = 5.0  # seconds an idle connection stays open after a response
    allowed_hosts: tuple[str, ...] | None = None  # Host header names answered; None: any (the test client)
    behind_proxy: bool = False  # addresses come from X-Forwarded-For (set by a proxy the server trusts)

    @classmethod
    def from_args(cls, args: argparse.Namespace, local: bool) -> "Limits":
        """The flags' values; a rate left unset is off for a server only this machine reaches
        (``local``: one person at the keyboard), else the public default above."""
        d = cls()
        rate = lambda given, public: (None if local else public) if given is None else given  # noqa: E731
        return cls(args.max_body, args.workers, args.queue, rate(args.rate_rounds, d.rounds_rate), rate(args.rate_guesses, d.guesses_rate),
                   rate(args.rate_generate, d.generate_rate), args.round_pool, args.round_reuse, args.keep_days or None,
                   args.request_timeout, args.max_connections, args.keep_alive, allowed_hosts(args.host, args.allowed_host),
                   bool(args.proxy))


def rate(text: str) -> str | None:
    """A rate flag's value: ``off`` or the `limits` syntax, e.g. ``30/minute`` or ``10/minute;100/hour``."""
    from . import deps

    if text.strip().lower() == "off":
        return None
    if deps.missing("limits"):  # checked when it parses the defaults too: serve.py names every missing package after
        return text
    from limits import parse_many

    try:
        parse_many(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate; write e.g. 30/minute, 10/minute;100/hour or off") from None
    return text


def allowed_hosts(host: str, extra: list[str]) -> tuple[str, ...]:
    """The Host header names a server bound to ``host`` answers to: ``host`` itself, this
    machine's loopback names, on a wildcard address (0.0.0.0, ::) the machine's name and
    addresses too, and ``extra``."""
    names = {host.strip("[]").lower(), "localhost", "127.0.0.1", "::1"}
    if host.strip("[]") in ("0.0.0.0", "::"):
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        with contextlib.suppress(OSError):
            names |= {info[4][0].split("%")[0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    return tuple(sorted(names | {name.strip("[]").lower() for name in extra}))


def host_name(value: bytes) -> str:
    """The name of a Host header, its port removed: ``[::1]:8000`` -> ``::1``."""
    text = value.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


# ----- headers, body cap, last-resort 500: one ASGI middleware ----------------------------------
class Guard:
    """Adds SECURITY_HEADERS to every response; answers 400 to a Host header that is not one of
    ``allowed_hosts`` (DNS rebinding: another site's name pointed at this machine) and, behind a
    proxy, to a forwarded client address that is not an IP address; refuses a body over
    ``max_body`` bytes with 413, by its Content-Length before reading anything, or as soon as a
    streamed body passes the cap, and one still incomplete ``body_timeout`` seconds after the app
    began reading it with 408; answers any exception that escapes the app with a JSON 500 (no
    traceback)."""

    def __init__(self, app, max_body: int, body_timeout: float = 10.0, allowed_hosts: tuple[str, ...] | None = None,
                 behind_proxy: bool = False):
        from starlette.exceptions import HTTPException  # raised while the app reads: its handler answers

        self.app = app
        self.max_body, self.body_timeout = max_body, body_timeout
        self.allowed_hosts = None if allowed_hosts is None else frozenset(allowed_hosts)
        self.behind_proxy = behind_proxy
        self.too_large = f"the request body is larger than {max_body} bytes"
        self._http_error = HTTPException

    def _refusal(self, scope) -> str | None:
        headers = dict(scope.get("headers", []))
        host = headers.get(b"host")
        if self.allowed_hosts is not None and host is not None and host_name(host) not in self.allowed_hosts:
            name = host.decode("latin-1")
            return (f"this server does not answer to the name {name!r}; use one of {', '.join(sorted(self.allowed_hosts))}, "
                    "or start serve.py with --allowed-host NAME")
        client = scope.get("client")
        if self.behind_proxy and client:
            try:
                ipaddress.ip_address(client[0])
            except ValueError:
                return f"the X-Forwarded-For header holds no client address ({client[0][:40]!r}); the proxy must set it"
        length = headers.get(b"content-length")
        if length is not None and not length.isdigit():
            return "the Content-Length header is not a number"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            return await _json(send_with_headers, 400, refusal)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and int(length) > self.max_body:
            return await _json(send_with_headers, 413, self.too_large)
        try:
            await self.app(scope, self._capped(receive), send_with_headers)
        except self._http_error as err:  # the cap or the time passed outside the app's handlers
            if started or err.status_code not in (408, 413):
                raise
            await _json(send_with_headers, err.status_code, err.detail)
        except Exception as err:  # the last resort: logged here, never shown
            log.exception("internal error")
            if not started:
                await _json(send_with_headers, 500, f"internal error ({err.__class__.__name__}); see the server log")

    def _capped(self, receive):
        seen, deadline, done = 0, None, False

        async def receive_capped():
            nonlocal seen, deadline, done
            if done:  # the body is in: waiting for a disconnect has no time limit
                return await receive()
            deadline = deadline or time.monotonic() + self.body_timeout
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise self._http_error(408, f"the request body did not arrive within {self.body_timeout:g} s; send it at once") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if seen > self.max_body:
                    raise self._http_error(413, self.too_large)
            return message

        return receive_capped


async def _json(send, status: int, message: str) -> None:
    """A JSON error that closes the connection (the rest of a refused body is never read)."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# ----- connections: how many, and how long a request's head may take ----------------------------
def _busy_response() -> bytes:
    body = json.dumps({"error": "too many open connections; try again in 5 s"}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body))


BUSY = _busy_response()


class RequestHeads:
    """Follows the bytes a client sends just far enough to know whether it is in the middle of a
    request's head (the request line and headers, up to the empty line): a body of a known
    Content-Length is skipped; after a chunked body it stops following (the app's body time
    limit covers that body, and its connection is no longer timed)."""

    def __init__(self):
        self.state, self.pending, self.body_left = "idle", b"", 0

    def feed(self, data: bytes) -> bool:
        """Take ``data``; whether a head is now incomplete."""
        while data and self.state != "lost":
            if self.state == "idle":
                data = data.lstrip(b"\r\n")
                if data:
                    self.state, self.pending = "head", b""
            elif self.state == "head":
                buffer = self.pending + data
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    self.pending = buffer[-3:]
                    return True
                head, data = buffer[:end].lower(), buffer[end + 4 :]
                if b"transfer-encoding:" in head:
                    self.state = "lost"
                else:
                    length = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.startswith(b"content-length:")), b"0")
                    self.body_left = int(length) if length.isdigit() else 0
                    self.state = "body" if self.body_left else "idle"
            elif self.state == "body":
                taken = min(len(data), self.body_left)
                self.body_left -= taken
                data = data[taken:]
                if not self.body_left:
                    self.state = "idle"
        return self.state == "head"


def guarded_protocol(max_connections: int, head_timeout: float):
    """uvicorn's h11 protocol class (what ``http="h11"`` names) with two bounds, added through
    asyncio's Protocol methods only: at most ``max_connections`` open (one more is answered 503
    and closed at once, before reading anything), and a connection that does not finish a
    request's head within ``head_timeout`` seconds of opening, or of the head's first byte, is
    closed (uvicorn's own keep-alive timeout closes an idle one after a response)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        open = 0

        def connection_made(self, transport):
            super().connection_made(transport)
            GuardedH11Protocol.open += 1
            self._heads, self._timer, self._guarded = RequestHeads(), None, transport
            if GuardedH11Protocol.open > max_connections:
                transport.write(BUSY)
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            waiting = self._heads.feed(data)
            if waiting and self._timer is None:
                self._arm()
            elif not waiting and self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().data_received(data)

        def connection_lost(self, exc):
            GuardedH11Protocol.open -= 1
            if self._timer is not None:
                self._timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._timer = asyncio.get_running_loop().call_later(head_timeout, self._expire)

        def _expire(self) -> None:
            self._timer = None
            if not self._guarded.is_closing():
                log.info("closed a connection that sent no complete request head in %g s", head_timeout)
                self._guarded.close()

    return GuardedH11Protocol


# ----- per-client rate limits -------------------------------------------------------------------
BUCKETS = {"rounds": "new rounds", "guesses": "guesses", "generate": "generate and score requests"}  # what each limit counts


class RateLimited(Exception):
    def __init__(self, bucket: str, limit: str, retry_after: int):
        super().__init__(f"too many {BUCKETS.get(bucket, bucket)} from this address (limit {limit}); try again in {retry_after} s")
        self.retry_after = retry_after


class RateLimits:
    """Moving-window limits per (bucket, client), in memory (the `limits` package)."""

    def __init__(self, rates: dict[str, str | None]):
        from limits import parse_many
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates = {bucket: (text, parse_many(text)) for bucket, text in rates.items() if text}

    def check(self, bucket: str, client: str) -> None:
        """Count one request of ``client`` in ``bucket``; RateLimited if it is one too many."""
        if bucket not in self._rates:
            return
        text, items = self._rates[bucket]
        for item in items:
            if not self._limiter.hit(item, bucket, client):
                reset = self._limiter.get_window_stats(item, bucket, client).reset_time
                raise RateLimited(bucket, text, max(1, math.ceil(reset - time.time())))


# ----- bounded generation pool ------------------------------------------------------------------
class Busy(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy generating; try again in {retry_after} s")
        self.retry_after = retry_after


class WorkPool:
    """``workers`` threads with at most ``queue`` jobs waiting: a job past that is refused at
    once (Busy, with an estimate of when a slot frees) instead of piling up."""

    def __init__(self, workers: int, queue: int):
        self.workers = workers
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="patentgen-work")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self._pending = 0
        self._mean = 1.0  # seconds per job, a running mean

    @property
    def pending(self) -> int:
        """Jobs waiting or running."""
        return self._pending

    def retry_after(self) -> int:
        return max(1, math.ceil(self._pending * self._mean / self.workers))

    def submit(self, fn, *args) -> Future:
        if not self._slots.acquire(blocking=False):
            raise Busy(self.retry_after())
        with self._lock:
            self._pending += 1
        return self._executor.submit(self._timed, fn, *args)

    async def run(self, fn, *args):
        """``fn(*args)`` on a worker, awaited (Busy if the queue is full)."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def _timed(self, fn, *args):
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._mean = 0.8 * self._mean + 0.2 * (time.perf_counter() - start)
                self._pending -= 1
            self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# ----- binding -------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) means this machine only."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def exposure_warning(host: str) -> str | None:
    """The warning for a server other machines can reach; None on loopback."""
    if is_loopback(host):
        return None
    return (f"warning: --host {host} makes the game reachable from other machines, and it has no authentication: "
            "anyone who reaches the port can play, generate, and skew the published stats (rate limits per address "
            "are on; see serve.py --help)")
