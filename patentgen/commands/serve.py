"""Serve the guessing game and the generator in the browser (FastAPI + uvicorn).

    .venv/bin/python serve.py                       # http://127.0.0.1:8000, the shipped model
    .venv/bin/python serve.py --port 8080 --db results.sqlite3

Pages: / (the game), /generate (your own seed, a diversity slider). JSON API and its OpenAPI
spec: /openapi.json. Binds 127.0.0.1 unless --host says otherwise (then it warns: the game has no
authentication). Limits (body size, generation queue, rate limits per client, round pool,
connections, the Host names answered, a trusted proxy): flags. For a public server, put a
reverse proxy in front (it buffers slow clients and terminates TLS) and pass --proxy ADDRESS.

The command behind ``serve.py`` and ``patentgen-serve``.
"""

from __future__ import annotations

import argparse
import socket
import sys

from patentgen import cli, deps, webguard
from patentgen.errors import UserError


def port(text: str) -> int:
    value = cli.positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1-65535)")
    return value


def add_flags(p: argparse.ArgumentParser) -> None:
    """serve.py's flags for the limits and defences (defaults: ``webguard.Limits``)."""
    d = webguard.Limits()
    g = p.add_argument_group("limits (rates per client address; 'off' turns one off)")
    g.add_argument("--max-body", type=cli.positive_int, default=d.max_body, metavar="BYTES", help="largest request body; larger get 413 (default: %(default)s)")
    g.add_argument("--workers", type=cli.positive_int, default=d.workers, metavar="N", help="threads that generate and score (default: %(default)s)")
    g.add_argument("--queue", type=cli.non_negative_int, default=d.queue, metavar="N", help="generate/score requests that may wait for a worker; more get 503 with Retry-After (default: %(default)s)")
    local = "off when the server is reachable only from this machine (no --proxy)"
    g.add_argument("--rate-rounds", type=webguard.rate, metavar="RATE", help=f"new rounds per client; more get 429 with Retry-After (default: {d.rounds_rate}; {local})")
    g.add_argument("--rate-guesses", type=webguard.rate, metavar="RATE", help=f"guesses per client (default: {d.guesses_rate}; {local})")
    g.add_argument("--rate-generate", type=webguard.rate, metavar="RATE", help=f"generate and score requests per client, together (default: {d.generate_rate}; {local})")
    g.add_argument("--round-pool", type=cli.non_negative_int, default=d.round_pool, metavar="N", help="fresh prepared rounds kept ready in the database; 0: every round made on the request (default: %(default)s)")
    g.add_argument("--round-reuse", type=cli.positive_int, default=d.round_reuse, metavar="N",
                   help="players a prepared round is dealt to (never twice to one player) before a fresh one replaces it (default: %(default)s)")
    g.add_argument("--keep-days", type=cli.non_negative_float, default=d.keep_days, metavar="DAYS", help="forget rounds nobody guessed after DAYS; 0 keeps them (default: %(default)g)")
    c = p.add_argument_group("connections")
    c.add_argument("--max-connections", type=cli.positive_int, default=d.max_connections, metavar="N", help="open connections; more are answered 503 and closed (default: %(default)s)")
    c.add_argument("--request-timeout", type=cli.positive_float, default=d.request_timeout, metavar="S",
                   help="seconds a client may take to send a request's head, and then its body; slower ones are closed (default: %(default)g)")
    c.add_argument("--keep-alive", type=cli.positive_float, default=d.keep_alive, metavar="S", help="seconds an idle connection stays open after a response (default: %(default)g)")
    c.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a name clients use to reach the server (the Host header), besides --host and this machine's own; others get 400 (repeatable)")
    c.add_argument("--proxy", metavar="ADDRESS", help="the reverse proxy in front of the server: only its X-Forwarded-For is trusted (default: none)")


def parse(argv=None):
    p = cli.Parser(prog=cli.prog("serve.py"), description=__doc__.split("\n")[0])
    cli.add_game_flags(p)
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    g.add_argument("--port", type=port, default=8000, help="port to listen on (default: %(default)s)")
    add_flags(p)
    return p.parse_args(argv)


def check_free(host: str, number: int) -> None:
    try:
        with socket.create_server((host, number)):
            pass
    except OSError as err:
        raise UserError(f"cannot listen on {host}:{number} ({err.strerror}); pass another --port or --host") from None


def main(argv=None) -> int:
    args = parse(argv)
    deps.require("numpy", "fastapi", "uvicorn", "limits")
    import uvicorn

    from patentgen import game, results, runs
    from patentgen.web import create_app

    run = runs.load_inference(args.model)
    play = game.from_run(run, game.Rules(seed_words=args.seed_words), args.data)
    check_free(args.host, args.port)
    local = webguard.is_loopback(args.host) and not args.proxy
    limits = webguard.Limits.from_args(args, local)
    store = results.Store(args.db)  # last: a start that fails leaves no database file behind
    app = create_app(run, play, store, args.random_seed, limits)
    warning = webguard.exposure_warning(args.host)
    if warning:
        print(f"patentgen: {warning}", file=sys.stderr, flush=True)
    rates = "rate limits off (only this machine can connect)" if local and not any(
        (limits.rounds_rate, limits.guesses_rate, limits.generate_rate)) else "rate limits per address on"
    print(f"patentgen: serving {run.path} on http://{args.host}:{args.port} ({len(play.abstracts)} abstracts to play; results in {store.path}; "
          f"{rates}); Ctrl-C stops", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=limits.keep_alive,
                http=webguard.guarded_protocol(limits.max_connections, limits.request_timeout),
                proxy_headers=bool(args.proxy), forwarded_allow_ips=args.proxy)
    return 0


def entry() -> int:
    """The ``patentgen-serve`` command."""
    return cli.run(main)
