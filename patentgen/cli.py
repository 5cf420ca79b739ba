"""Command-line plumbing shared by the scripts: one-line errors, exit status 2, no traceback."""

from __future__ import annotations

import argparse
import math
import os
import sys

from .errors import Interrupted, UserError

# Quiet TensorFlow's start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag on one line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def unit_interval(text: str) -> float:
    """A number in (0, 1]."""
    value = non_negative_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} must be in (0, 1]")
    return value


def fraction(text: str) -> float:
    value = non_negative_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 1")
    return value


def run(main, argv=None) -> int:
    """Call ``main(argv)``; a UserError becomes ``error: ...`` on stderr and exit status 2, and
    Ctrl-C a one-line note and status 130 (run folders are only renamed into place when complete)."""
    try:
        return main(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Interrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted: nothing half-written was left behind", file=sys.stderr)
        return 130


def add_game_flags(p: argparse.ArgumentParser) -> None:
    """The flags game.py and serve.py share: which run, which corpus, which results file, rounds."""
    from .config import DEFAULT_MODEL_DIR
    from .game import Rules
    from .results import default_path

    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model, %(default)s)")
    p.add_argument("--data", help="the corpus the model was trained on (default: the path the run recorded, then data/)")
    p.add_argument("--db", default=str(default_path()), help="SQLite file for rounds and guesses (default: %(default)s)")
    g = p.add_argument_group("rounds")
    g.add_argument("--seed-words", type=positive_int, default=Rules.seed_words, help="words of the real abstract shown as the seed (default: %(default)s)")
    g.add_argument("--random-seed", type=int, help="makes the rounds repeatable")
