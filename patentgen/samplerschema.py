"""The sampler's options, declared once: each option's name, type, range and help.

Owns the rules of a sampler description (``patentgen.sampling.from_description``): which options
exist, which values each takes, that at most one strategy (a filter: top-k, top-p, min-p,
typical-p) is chosen and that ``full`` (no filter) takes none. Everything that accepts sampler
options is built from ``OPTIONS``: generate.py's flags (``patentgen.cli.add_sampler_flags``), the
web API's request model (``patentgen.web``), the Python API (``patentgen.Generator.generate``) and
the sampler objects (``patentgen.sampling``). Errors name an option the way its caller knows it: a
description key (``temperature``), an API field or Python keyword (``diversity``, ``top_k``) or a
flag (``--diversity``, ``--top-k``). No numpy: the command line builds its flags from this alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class SamplerOption:
    key: str  # its key in a sampler description
    type: type  # int or float
    low: float
    high: float | None  # None: any finite number from ``low``
    help: str
    note: str = ""  # what a special value means, e.g. "0 is greedy"
    open_low: bool = False  # ``low`` itself is outside the range
    open_high: bool = False
    strategy: bool = False  # a filter: at most one strategy per sampler
    public: str = ""  # its name as an API field, Python keyword and (dashed) flag, if not ``key``
    metavar: str | None = None

    @property
    def name(self) -> str:
        """The API field and Python keyword: ``diversity`` for the temperature."""
        return self.public or self.key

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def need(self) -> str:
        """The values it takes, in words: what an error message says."""
        note = f" ({self.note})" if self.note else ""
        if self.type is int:
            return f"a whole number from {self.low:,} to {self.high:,}{note}"
        if self.high is None:
            return f"a finite number >= {self.low:g}{note}"
        if self.open_low or self.open_high:
            return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}{note}"
        return f"a number from {self.low:g} to {self.high:g}{note}"

    def accepts(self, value) -> bool:
        """Whether ``value`` (a Python number) is one of its values; never raises (2**1024 included)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.type is int and not (isinstance(value, int) or (math.isfinite(value) and value.is_integer())):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return above and below

    def bounds(self) -> dict:
        """The range as JSON Schema / pydantic keywords (``ge``, ``gt``, ``le``, ``lt``)."""
        out = {"gt" if self.open_low else "ge": self.low}
        if self.high is not None:
            out["lt" if self.open_high else "le"] = self.high
        return {k: self.type(v) for k, v in out.items()}

    def from_text(self, text: str) -> int | float:
        """A command-line value; ValueError says what it must be."""
        try:
            value = self.type(text)
        except ValueError:
            value = None
        if value is None or not self.accepts(value):
            raise ValueError(f"must be {self.need}, not {text!r}")
        return value


MAX_DIVERSITY = 5.0
OPTIONS = (
    SamplerOption("temperature", float, 0, MAX_DIVERSITY, "sampling temperature", "0 is greedy", public="diversity", metavar="T"),
    SamplerOption("top_k", int, 1, 1_000_000, "draw only from the K most likely words", strategy=True, metavar="K"),
    SamplerOption("top_p", float, 0, 1, "nucleus sampling: draw only from the most likely words whose probability adds up to P",
                  open_low=True, strategy=True, metavar="P"),
    SamplerOption("min_p", float, 0, 1, "draw only from words at least P times as likely as the most likely one", open_low=True,
                  strategy=True, metavar="P"),
    SamplerOption("typical_p", float, 0, 1, "locally typical sampling with probability mass P", open_low=True, strategy=True, metavar="P"),
    SamplerOption("repetition_penalty", float, 1, None, "divide the logit of every word already in the text by R (CTRL's penalty)",
                  "1 is none", metavar="R"),
    SamplerOption("no_repeat_ngram", int, 0, 1000, "never repeat an N-gram of the text", "0 is none", metavar="N"),
    SamplerOption("no_stutter", int, 0, 10, "never say the last 1 to N words again right after them ('layer layer')",
                  "0 is none", metavar="N"),
    SamplerOption("phrase_cache", float, 0, 1, "give share W of the probability to continuing a phrase already in the text, "
                  "as patents repeat theirs", "0 is none", open_high=True, metavar="W"),
    SamplerOption("word_cache", float, 0, 1, "give up to share W of the probability to reusing a word of the text, "
                  "as people reuse their terms", "0 is none", open_high=True, metavar="W"),
    SamplerOption("critic", int, 1, 64, "critic-guided decoding: write K candidates for each clause and keep the one the "
                  "run's critics, trained on human versus generated text, find most human", "1 is none", metavar="K"),
)
BY_KEY = {o.key: o for o in OPTIONS}
BY_NAME = {o.name: o for o in OPTIONS}
KEYS = tuple(BY_KEY)
STRATEGIES = tuple(o.key for o in OPTIONS if o.strategy)
FULL = "full"  # not an option of the description: asks for no strategy where the defaults have one
FULL_HELP = "draw from the whole distribution (no top-k/top-p/min-p/typical-p filter)"

# How each caller names an option in messages.
KEY, API, FLAG = "key", "api", "flag"


def shown(option: SamplerOption | str, style: str) -> str:
    if isinstance(option, str):  # "full"
        return f"--{option}" if style == FLAG else option
    return option.key if style == KEY else option.flag if style == FLAG else option.name


def _value(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def _check(values: dict, style: str) -> None:
    """Every value in range, at most one strategy; ``values`` keyed by description keys."""
    for key, value in values.items():
        option = BY_KEY[key]
        if not option.accepts(value):
            raise UserError(f"{shown(option, style)} must be {option.need}, not {_value(value)}")
    chosen = [shown(BY_KEY[k], style) for k in STRATEGIES if k in values]
    if len(chosen) > 1:
        every = [shown(BY_KEY[k], style) for k in STRATEGIES]
        raise UserError(f"choose one of {', '.join(every[:-1])} and {every[-1]}, not {' and '.join(chosen)}")


def check(desc: dict) -> dict:
    """A sampler description (keys as ``KEYS``; None: not set) with every value checked; a
    UserError names the first bad one by its key."""
    unknown = set(desc) - set(KEYS)
    if unknown:
        raise UserError(f"unknown sampler option {sorted(unknown)[0]!r}; the options are {', '.join(KEYS)}")
    out = {k: v for k, v in desc.items() if v is not None}
    _check(out, KEY)
    return out


def resolve(given: dict, defaults: dict, style: str = API) -> dict:
    """The description that a caller's options ask for: ``given`` keyed as the API and the
    flags' destinations name them (``diversity``, ``top_k``, ..., ``full``; None: not given),
    checked and named in errors as ``style`` (``API`` or ``FLAG``) says, over ``defaults`` (a
    description): a strategy given replaces the default one, and ``full`` asks for none."""
    unknown = set(given) - set(BY_NAME) - {FULL}
    if unknown:
        names = [shown(o, style) for o in OPTIONS] + [shown(FULL, style)]
        raise UserError(f"unknown sampler option {sorted(unknown)[0]!r}; the options are {', '.join(names)}")
    full = given.get(FULL) or False
    if not isinstance(full, bool):
        raise UserError(f"{shown(FULL, style)} must be true or false, not {_value(full)}")
    values = {BY_NAME[name].key: v for name, v in given.items() if name != FULL and v is not None}
    _check(values, style)
    chosen = [k for k in STRATEGIES if k in values]
    if full and chosen:
        raise UserError(f"{shown(FULL, style)} means no filter; drop it or {shown(BY_KEY[chosen[0]], style)}")
    return with_defaults({**values, FULL: full}, defaults)


def with_defaults(given: dict, defaults: dict) -> dict:
    """``given`` options of a description (None: not given) over ``defaults``; a strategy given
    replaces the default one, and ``"full": True`` asks for none."""
    given = {k: v for k, v in given.items() if v is not None}
    full = given.pop(FULL, False)
    base = {k: v for k, v in defaults.items() if k not in STRATEGIES or not (full or set(STRATEGIES) & set(given))}
    return {**base, **given}
