"""Serve the guessing game and the generator in the browser (FastAPI + uvicorn).

    .venv/bin/python serve.py                       # http://127.0.0.1:8000, the shipped model
    .venv/bin/python serve.py --port 8080 --db results.sqlite3

Pages: / (the game), /generate (your own seed, a diversity slider). JSON API and its OpenAPI
spec: /openapi.json. Binds 127.0.0.1 unless --host says otherwise (then it warns: the game has no
authentication). Limits (body size, generation queue, rate limits per client, round pool): flags.

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


def parse(argv=None):
    p = cli.Parser(prog=cli.prog("serve.py"), description=__doc__.split("\n")[0])
    cli.add_game_flags(p)
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    g.add_argument("--port", type=port, default=8000, help="port to listen on (default: %(default)s)")
    webguard.add_flags(p)
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
    store = results.Store(args.db)  # last: a start that fails leaves no database file behind
    app = create_app(run, play, store, args.random_seed, webguard.Limits.from_args(args))
    warning = webguard.exposure_warning(args.host)
    if warning:
        print(f"patentgen: {warning}", file=sys.stderr, flush=True)
    print(f"patentgen: serving {run.path} on http://{args.host}:{args.port} (results in {store.path}); Ctrl-C stops", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def entry() -> int:
    """The ``patentgen-serve`` command."""
    return cli.run(main)
