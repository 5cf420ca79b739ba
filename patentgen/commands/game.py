"""Guess which continuation a human wrote: the guessing game in the terminal.

    .venv/bin/python game.py                       # play with the shipped model; q quits
    .venv/bin/python game.py --rounds 5 --db results.sqlite3
    .venv/bin/python game.py --stats               # rounds played and the model's fool rate

Each round shows the first 50 words of a held-out abstract (test or validation side: one the
model never trained on) and three continuations of the same length: the real one and two model
samples by the game's sampler (patentgen.config.GAME_SAMPLER, diversity drawn from GAME_BAND).
A player (--player, default: your user name) is never dealt an abstract twice; when none is left
it says so and stops. Every round and guess is stored in SQLite (--db). Reads answers line by
line, so it also plays from a pipe and stops cleanly at the end of input.

The command behind ``game.py`` and ``patentgen-game``.
"""

from __future__ import annotations

import getpass
import sys
import textwrap
from pathlib import Path

from patentgen import cli, deps

QUIT = {"q", "quit", "exit"}


def parse(argv=None):
    p = cli.Parser(prog=cli.prog("game.py"), description=__doc__.split("\n")[0])
    cli.add_game_flags(p)
    p.add_argument("--rounds", type=cli.positive_int, help="stop after N rounds (default: until q or end of input)")
    p.add_argument("--player", default=getpass.getuser(), help="who plays: a player is never dealt an abstract twice (default: your user name, %(default)s)")
    p.add_argument("--stats", action="store_true", help="print the stored results (human found and fool rate per setting, with 95%% intervals) and exit")
    return p.parse_args(argv)


def ask(prompt: str) -> int | None:
    """1-3 from standard input; None on q or end of input. Anything else asks again."""
    while True:
        print(prompt, end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            print()
            return None
        answer = line.strip().lower()
        if answer in QUIT:
            return None
        if answer in {"1", "2", "3"}:
            return int(answer)
        print(f"  {answer!r} is not an option: type 1, 2 or 3, or q to quit")


def show_round(rnd) -> None:
    wrap = lambda text, indent: textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=" " * len(indent))  # noqa: E731
    print("\n" + wrap(rnd.seed + " ...", "seed: "))
    for i, text in enumerate(rnd.public()["options"], 1):
        print("\n" + wrap("..." + text, f"[{i}] "))


def show_reveal(reveal, right: int, played: int) -> None:
    print("\n" + ("right!" if reveal.correct else f"wrong: the human text was [{reveal.human}]"))
    for i, option in enumerate(reveal.options, 1):
        print(f"  [{i}] {option.source}" + (f" (diversity {option.diversity:.2f})" if option.diversity is not None else ""))
    print(f"score: {right} of {played}")


def main(argv=None) -> int:
    args = parse(argv)
    deps.require("numpy")
    import numpy as np

    from patentgen import game, results, runs

    if args.stats:
        if not Path(args.db).is_file():  # reading the stats creates nothing
            print(f"no rounds played yet: there is no results file {args.db}")
            return 0
        print("\n".join(results.Store(args.db).stats().lines()))
        return 0
    run = runs.load_inference(args.model)
    play = game.from_run(run, game.Rules(seed_words=args.seed_words), args.data)
    store = results.Store(args.db)  # after the checks above: a start that fails leaves no database file
    player = store.opaque("terminal " + args.player)
    dealer = play.dealer(str(run.path))
    store.add_setting(dealer, play.rules.setting(str(run.path)))
    rng = np.random.default_rng(args.random_seed)
    right = played = 0
    while args.rounds is None or played < args.rounds:
        try:
            rnd = store.add_round(play.new_round(rng, avoid=store.seen(player)), dealer, player)
        except game.AllSeen as err:
            print(f"\n{err}")
            break
        show_round(rnd)
        left = len(play.abstracts - store.seen(player))
        choice = ask(f"\nwhich one did a human write? [1/2/3, q quits; {left} abstracts left after this one] ")
        if choice is None:
            break
        reveal = store.guess(rnd.id, choice, player, player)
        right, played = right + reveal.correct, played + 1
        show_reveal(reveal, right, played)
    print(f"final score: {right} of {played}; results in {store.path}")
    return 0


def entry() -> int:
    """The ``patentgen-game`` command."""
    return cli.run(main)
