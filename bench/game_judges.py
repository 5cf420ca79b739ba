"""Can a bot that does not read win the guessing game? Simple guessers against game rounds.

    python -m bench.game_judges                       # 300 rounds of the shipped model's game
    python -m bench.game_judges --rounds 600 --sampler '{"top_p": 0.95}' --band 0.9,1.1

Plays rounds through the game logic (``patentgen.game``: test-split abstracts, the game's
sampler and diversity band) and lets each guesser pick the option it thinks a human wrote, seeing
only what any client sees: the seed, the three option texts, the public ``tokenizer.json``
(vocabulary and rare words) and the model's scores (``/api/score``). Each feature is tried three
ways: the option with the highest value, the lowest, and the odd one out (farthest from the mean
of the other two). Prints each guesser's hit rate with its 95% Wilson interval (chance is 1/3);
writes ``game_judges.json`` and ``GAME_JUDGES.md`` with ``--out``.

Targets (issue 11, 300 rounds, shipped model): vocabulary and formatting guessers <= 40%,
simple statistical guessers <= 45%.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from patentgen import game, generation, runs
from patentgen.config import DEFAULT_MODEL_DIR

VOCABULARY, STATISTICAL = "vocabulary/formatting", "statistical"
TARGETS = {VOCABULARY: 0.40, STATISTICAL: 0.45}
_WORD = re.compile(r"[a-z]+", re.I)


@dataclass(frozen=True)
class Played:
    """One dealt round as a client sees it, plus the answer for scoring the guessers."""

    seed: str
    options: list[str]
    human: int  # 0-based
    diversities: list[float]


def deal(play: game.Game, n: int, seed: int) -> list[Played]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rnd = play.new_round(rng)
        out.append(Played(rnd.seed, [o.text for o in rnd.options], rnd.human - 1,
                          [o.diversity for o in rnd.options if o.diversity is not None]))
    return out


# ----- features of one option's text (what a client can compute) -----------------------------
def repeated_share(tokens: list[str], n: int) -> float:
    """Share of the n-grams of ``tokens`` that already occurred earlier in them."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    seen, repeats = set(), 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0


class Features:
    """Text features of options, with the run's public tokenizer and scores."""

    def __init__(self, run):
        self.run = run
        self.vocab = set(run.tokenizer.vocab)
        ov = run.tokenizer.open_vocab
        self.known = self.vocab | set(ov.rare if ov else ())

    def of(self, seed: str, text: str) -> dict[str, tuple[str, float]]:
        tok = self.run.tokenizer
        seed_tokens, tokens = tok.text_to_tokens(seed), tok.text_to_tokens(text)
        words = [w for w in _WORD.findall(text)]
        score = generation.score_tokens(self.run, tokens, seed_tokens)
        return {
            "outside vocabulary": (VOCABULARY, sum(t not in self.vocab for t in tokens)),
            "never seen in training, not in seed": (VOCABULARY, sum(t not in self.known and t not in seed_tokens for t in tokens)),
            "punctuation marks": (VOCABULARY, sum(ch in ".,;:?!()" for ch in text)),
            "capital letters": (VOCABULARY, sum(ch.isupper() for ch in text)),
            "digits": (VOCABULARY, sum(ch.isdigit() for ch in text)),
            "length in characters": (STATISTICAL, len(text)),
            "mean word length": (STATISTICAL, float(np.mean([len(w) for w in words])) if words else 0.0),
            "repeated words": (STATISTICAL, 1 - len(set(tokens)) / max(len(tokens), 1)),
            "repeated 4-grams": (STATISTICAL, repeated_share(tokens, 4)),
            "model log-probability (after the seed)": (STATISTICAL, score.total / max(len(tokens), 1)),
            "model log-probability (alone)": (STATISTICAL, generation.score_tokens(self.run, tokens).total / max(len(tokens), 1)),
        }


def _pick(values: np.ndarray, how: str, rng: np.random.Generator) -> int:
    if how == "highest":
        key = values
    elif how == "lowest":
        key = -values
    else:  # odd one out: farthest from the mean of the other two
        key = np.array([abs(values[i] - np.delete(values, i).mean()) for i in range(len(values))])
    best = np.flatnonzero(np.isclose(key, key.max(), rtol=0, atol=1e-12))
    return int(rng.choice(best))  # ties broken at random


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def judge(rounds: list[Played], features: Features, extra: dict[str, Callable[[Played], list[float]]] | None = None,
          seed: int = 0) -> list[dict]:
    """Every guesser's hits over ``rounds``: one row per (feature, way). Ties are broken at random,
    by a stream independent of the one that dealt the rounds."""
    rng = np.random.default_rng([seed, 0x7E5])
    table: dict[tuple[str, str], tuple[str, list[list[float]]]] = {}
    for rnd in rounds:
        per_option = [features.of(rnd.seed, text) for text in rnd.options]
        for name, (group, _) in per_option[0].items():
            table.setdefault((name, group), (group, []))[1].append([f[name][1] for f in per_option])
        for name, fn in (extra or {}).items():
            table.setdefault((name, STATISTICAL), (STATISTICAL, []))[1].append(fn(rnd))
    rows = []
    for (name, group), (_, values) in table.items():
        for how in ("highest", "lowest", "odd one out"):
            hits = sum(_pick(np.asarray(v, float), how, rng) == r.human for v, r in zip(values, rounds))
            low, high = wilson(hits, len(rounds))
            rows.append({"guesser": f"{how}: {name}", "group": group, "hits": hits, "rounds": len(rounds),
                         "rate": hits / len(rounds), "low": low, "high": high})
    return rows


def verdicts(rows: list[dict]) -> dict[str, dict]:
    """Per group: the best guesser and whether it meets its target."""
    out = {}
    for group, target in TARGETS.items():
        best = max((r for r in rows if r["group"] == group), key=lambda r: r["rate"])
        out[group] = {"best": best["guesser"], "rate": best["rate"], "target": target, "met": best["rate"] <= target}
    return out


def markdown(rows, summary, header: list[str]) -> str:
    lines = ["# Game judges", "", *header, "",
             "| guesser | group | picks the human | 95% interval |", "|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["group"], -r["rate"])):
        lines.append(f"| {r['guesser']} | {r['group']} | {r['rate']:.1%} ({r['hits']}/{r['rounds']}) | {r['low']:.1%}-{r['high']:.1%} |")
    lines += ["", "## Targets", ""]
    for group, v in summary.items():
        lines.append(f"- {group} guessers <= {v['target']:.0%}: best is \"{v['best']}\" at {v['rate']:.1%}: "
                     f"{'met' if v['met'] else 'NOT met'}")
    return "\n".join(lines) + "\n"


def build_game(run, data, sampler: dict | None, band: tuple[float, float] | None) -> game.Game:
    rules = game.Rules()
    if sampler is not None or band is not None:
        low, high = band or (rules.low, rules.high)
        rules = game.Rules(low=low, high=high, sampler=rules.sampler if sampler is None else sampler)
    return game.from_run(run, rules, data, sides=("test",))  # the rounds these figures were measured on


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.game_judges", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model)")
    p.add_argument("--data", help="the corpus the run was trained on (default: the path it recorded)")
    p.add_argument("--rounds", type=int, default=300, help="rounds to deal (default: %(default)s)")
    p.add_argument("--sampler", type=json.loads, help="a sampler description (JSON) instead of the game's")
    p.add_argument("--band", type=lambda s: tuple(float(x) for x in s.split(",")), help="LOW,HIGH diversity band instead of the game's")
    p.add_argument("--random-seed", type=int, default=0, help="seed of the dealt rounds (default: %(default)s)")
    p.add_argument("--out", help="write game_judges.json and GAME_JUDGES.md into this folder")
    args = p.parse_args(argv)
    run = runs.load_inference(args.model)
    play = build_game(run, args.data, args.sampler, args.band)
    rounds = deal(play, args.rounds, args.random_seed)
    rows = judge(rounds, Features(run))
    summary = verdicts(rows)
    r = play.rules
    header = [f"Measured {datetime.date.today().isoformat()}: {args.rounds} rounds of `{run.path}` "
              f"(random seed {args.random_seed}); game sampler {json.dumps(r.sampler)} at diversities drawn from "
              f"[{r.low}, {r.high}]; {len(play.ids)} of {play.offered} test abstracts playable.",
              f"Command: `python -m bench.game_judges {' '.join(argv if argv is not None else sys.argv[1:])}`",
              "Chance is 33.3%. Each guesser sees only the seed, the three texts, the public tokenizer.json and the model's scores."]
    for row in sorted(rows, key=lambda r: -r["rate"]):
        print(f"{row['rate']:6.1%}  [{row['low']:.1%}, {row['high']:.1%}]  {row['group']:22s} {row['guesser']}")
    for group, v in summary.items():
        print(f"{group}: best {v['rate']:.1%} ({v['best']}), target <= {v['target']:.0%}: {'met' if v['met'] else 'NOT met'}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "game_judges.json").write_text(json.dumps({"header": header, "rows": rows, "summary": summary}, indent=2) + "\n")
        (out / "GAME_JUDGES.md").write_text(markdown(rows, summary, header))
        print(f"wrote {out / 'game_judges.json'}, {out / 'GAME_JUDGES.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
