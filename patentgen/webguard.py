"""The web app's defences, each small and separately testable: security headers and a body-size
cap on every request (one ASGI middleware), per-client rate limits, a bounded pool for
generation work, opaque client ids, and the warning for a server reachable from other machines.

``patentgen.web`` wires them into the app; the limits' values come from ``serve.py``'s flags
(``add_flags``, ``Limits.from_args``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
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
    """Every limit of the web app; ``None`` for a rate turns that limit off."""

    max_body: int = 64 * 1024  # bytes in a request body
    workers: int = 1  # threads that generate and score
    queue: int = 64  # generation requests that may wait for a worker; more get 503
    rounds_rate: str | None = "30/minute"  # new rounds per client (the syntax of the `limits` package)
    guesses_rate: str | None = "30/minute"
    generate_rate: str | None = "10/minute;100/hour"  # /api/generate and /api/score together
    round_pool: int = 300  # prepared rounds kept ready
    round_reuse: int = 20  # deals after which a prepared round is replaced (each deal a new round, options reordered)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Limits":
        return cls(args.max_body, args.workers, args.queue, args.rate_rounds, args.rate_guesses, args.rate_generate, args.round_pool, args.round_reuse)


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


def count(text: str) -> int:
    """A whole number >= 0 (a flag's value)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def add_flags(p: argparse.ArgumentParser) -> None:
    """serve.py's flags for the limits (defaults: ``Limits``)."""
    from .cli import positive_int

    d = Limits()
    g = p.add_argument_group("limits (per client: by address; 'off' turns a rate limit off)")
    g.add_argument("--max-body", type=positive_int, default=d.max_body, metavar="BYTES", help="largest request body; larger get 413 (default: %(default)s)")
    g.add_argument("--workers", type=positive_int, default=d.workers, metavar="N", help="threads that generate and score (default: %(default)s)")
    g.add_argument("--queue", type=count, default=d.queue, metavar="N", help="generate/score requests that may wait for a worker; more get 503 with Retry-After (default: %(default)s)")
    g.add_argument("--rate-rounds", type=rate, default=d.rounds_rate, metavar="RATE", help="new rounds per client; more get 429 with Retry-After (default: %(default)s)")
    g.add_argument("--rate-guesses", type=rate, default=d.guesses_rate, metavar="RATE", help="guesses per client (default: %(default)s)")
    g.add_argument("--rate-generate", type=rate, default=d.generate_rate, metavar="RATE", help="generate and score requests per client, together (default: %(default)s)")
    g.add_argument("--round-pool", type=count, default=d.round_pool, metavar="N", help="fresh prepared rounds kept ready in the database; 0: every round made on the request (default: %(default)s)")
    g.add_argument("--round-reuse", type=positive_int, default=d.round_reuse, metavar="N",
                   help="deals after which a prepared round is replaced by a fresh one; each deal is a new round with the options reordered (default: %(default)s)")


# ----- headers, body cap, last-resort 500: one ASGI middleware ----------------------------------
class Guard:
    """Adds SECURITY_HEADERS to every response; refuses a body over ``max_body`` bytes with 413,
    by its Content-Length before reading anything, or as soon as a streamed body passes the
    cap; answers any exception that escapes the app with a JSON 500 (no traceback)."""

    def __init__(self, app, max_body: int):
        from starlette.exceptions import HTTPException  # raised while the app reads: its handler answers

        self.app = app
        self.max_body = max_body
        self.too_large = f"the request body is larger than {max_body} bytes"
        self._http_error = HTTPException

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

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and not length.isdigit():
            return await _json(send_with_headers, 400, "the Content-Length header is not a number")
        if length is not None and int(length) > self.max_body:
            return await _json(send_with_headers, 413, self.too_large)
        try:
            await self.app(scope, self._capped(receive), send_with_headers)
        except self._http_error as err:  # the cap passed outside the app's handlers
            if started or err.status_code != 413:
                raise
            await _json(send_with_headers, 413, err.detail)
        except Exception as err:  # the last resort: logged here, never shown
            log.exception("internal error")
            if not started:
                await _json(send_with_headers, 500, f"internal error ({err.__class__.__name__}); see the server log")

    def _capped(self, receive):
        seen = 0

        async def receive_capped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
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


# ----- per-client rate limits -------------------------------------------------------------------
class RateLimited(Exception):
    def __init__(self, what: str, limit: str, retry_after: int):
        super().__init__(f"too many {what} from this client (limit {limit}); try again in {retry_after} s")
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


# ----- clients, binding -------------------------------------------------------------------------
def client_id(address: str, key: bytes) -> str:
    """An opaque id of a client address (keyed per results file: the address is not stored)."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:16]


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
