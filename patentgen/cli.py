"""Command-line plumbing shared by the scripts: one-line errors, exit status 2, no traceback."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from . import samplerschema
from .errors import Interrupted, UserError

# Quiet TensorFlow's start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag on one line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def prog(script: str) -> str:
    """The name a command shows in its usage and errors: ``patentgen-train`` and so on when run as
    that console script, else ``script`` (``train.py``, ``evaluate.py``)."""
    name = Path(sys.argv[0]).name
    return name if name.startswith("patentgen-") else script


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be a whole number >= 0")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number >= 0")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def random_seed(text: str) -> int:
    """A ``--random-seed``: a whole number >= 0, as numpy's generators take."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; a random seed is a whole number >= 0")
    return value


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


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


def below_one(text: str) -> float:
    """A number in [0, 1): a dropout rate."""
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} must be in [0, 1)")
    return value


def option_type(option):
    """An argparse ``type`` for a sampler option: the schema's parse, its message on one line."""

    def parse(text: str):
        try:
            return option.from_text(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = option.name
    return parse


def add_sampler_flags(g, defaults: dict) -> list[argparse.Action]:
    """The sampler options as flags, one per option of ``patentgen.samplerschema.OPTIONS`` (the
    strategies and ``--full`` mutually exclusive); ``defaults`` is the description used where a
    flag is not given (a strategy flag replaces its strategy). Returns the actions added."""
    default_strategy = next((f"{o.flag} {defaults[o.key]}" for o in samplerschema.OPTIONS if o.strategy and o.key in defaults), "none")
    strategies, added = g.add_mutually_exclusive_group(), []
    for option in samplerschema.OPTIONS:
        if option.strategy:
            default = f" (default strategy: {default_strategy})" if option.key == samplerschema.STRATEGIES[0] else ""
        else:
            default = f" (default: {defaults[option.key]:g})" if option.key in defaults else " (default: off)"
        note = f"; {option.note}" if option.note else ""
        added.append((strategies if option.strategy else g).add_argument(
            option.flag, type=option_type(option), metavar=option.metavar, help=f"{option.help}{note}{default}"))
        if option.key == samplerschema.STRATEGIES[-1]:
            added.append(strategies.add_argument(f"--{samplerschema.FULL}", action="store_true", help=samplerschema.FULL_HELP))
    return added


def sampler_description(args: argparse.Namespace, defaults: dict) -> dict:
    """The sampler description the flags of ``add_sampler_flags`` give, over ``defaults``."""
    given = {o.name: getattr(args, o.name) for o in samplerschema.OPTIONS}
    return samplerschema.resolve({**given, samplerschema.FULL: args.full}, defaults, samplerschema.FLAG)


class _Given(argparse.Namespace):
    """A namespace that claims every attribute, so that argparse fills in no default: what it
    holds after parsing is what the arguments set (argparse's own attributes begin with _)."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return None


def given(parser: argparse.ArgumentParser, argv=None) -> set[str]:
    """The destinations that ``argv`` sets explicitly (abbreviated and ``--flag=value`` forms
    included): the arguments parsed again into a namespace that takes no defaults."""
    return set(vars(parser.parse_args(argv, namespace=_Given())))


def check_utf8(text: str, what: str) -> str:
    """``text`` unchanged, or a UserError if it holds bytes that were not UTF-8 (Python keeps
    them in command-line arguments as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        code = ord(text[err.start])
        byte = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"
        raise UserError(
            f"{what} is not valid UTF-8 ({byte} at character {err.start + 1}); "
            "pass UTF-8 text (set the terminal to UTF-8, or convert with iconv -f latin1 -t utf-8)"
        ) from None
    return text


def read_stdin(what: str) -> str:
    """All of standard input as UTF-8 text (for ``--seed -``); a UserError if it is not UTF-8."""
    if sys.stdin is None:
        raise UserError(f"{what}: there is no standard input to read; pass the text itself")
    if sys.stdin.isatty():
        print(f"reading {what} from standard input; end it with Ctrl-D", file=sys.stderr, flush=True)
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{what} on standard input is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "convert it, e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def check_output(path: str) -> Path:
    """An ``--output`` file that can be written: its folder exists and it is not a folder."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"--output {path} is a folder; pass a file name, e.g. {out / 'generated.txt'}")
    if not out.parent.is_dir():
        raise UserError(f"--output {path}: folder {out.parent} does not exist; create it or pass another --output")
    return out


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it, then a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path} ({err.strerror}); pass another --output") from None


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
    from .config import DEFAULT_MODEL_DIR, GAME_SEED_WORDS, default_results_path

    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model, %(default)s)")
    p.add_argument("--data", help="the corpus the model was trained on (default: the path the run recorded, then a file of that name in $PATENTGEN_DATA, data/ or ~/.local/share/patentgen/data)")
    p.add_argument("--db", default=str(default_results_path()), help="SQLite file for rounds and guesses (default: %(default)s)")
    g = p.add_argument_group("rounds")
    g.add_argument("--seed-words", type=positive_int, default=GAME_SEED_WORDS, help="words of the real abstract shown as the seed (default: %(default)s)")
    g.add_argument("--random-seed", type=random_seed, help="a whole number >= 0: makes the rounds repeatable")
