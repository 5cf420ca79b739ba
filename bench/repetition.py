"""Repetition of generated text against human text, at every diversity a user can pick.

    python -m bench.repetition [--model DIR] [--docs 120] [--out bench/]

For test-split abstracts, the first 50 words are the seed and the next 50 the human
continuation; the default sampler (``patentgen.config.DEFAULT_SAMPLER``, caches on) writes 50
words from the same seed at each diversity of ``DIVERSITIES``, and also from 3-word seeds as a
user types them (``SHORT_SEEDS``, 100 words each). Measured: stutters (a word or two-word
phrase said again at once, per 100 words) and the share of 4-grams already said in the text.
Targets (issue 25): stutters at most the human rate; 4-gram repetition at most 1.5 times the
human rate at every diversity from 0.3 to 1.2. Writes REPETITION.md and repetition.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from bench.game_judges import repeated_share
from patentgen import generation, runs, sampling
from patentgen.config import DEFAULT_MODEL_DIR, DEFAULT_SAMPLER

DIVERSITIES = (0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2)
SHORT_SEEDS = ("a method for", "the neural network", "a system and", "an apparatus for", "the present invention")
HERE = Path(__file__).parent


def stutters(words: list[str]) -> float:
    """Words or two-word phrases said again at once, per 100 words."""
    ones = sum(a == b for a, b in zip(words, words[1:]))
    twos = sum(words[i : i + 2] == words[i + 2 : i + 4] for i in range(len(words) - 3))
    return 100 * (ones + twos) / max(len(words), 1)


def stats(texts: list[list[str]]) -> dict:
    return {"stutters_per_100": round(float(np.mean([stutters(t) for t in texts])), 3),
            "rep4": round(float(np.mean([repeated_share(t, 4) for t in texts])), 4)}


def measure(run, desc: dict, docs: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    test = [d for d in runs.split_tokens(run, "test") if len(d) >= 100][:docs]
    human_long = stats([d[50:100] for d in test])
    rows = []
    for diversity in DIVERSITIES:
        sampler = sampling.from_description({**desc, "temperature": diversity})
        long = [generation.continue_text(run, d[:50], 50, rng, sampler).words for d in test]
        short = [generation.continue_text(run, s, 100, rng, sampler).words for s in SHORT_SEEDS for _ in range(4)]
        rows.append({"diversity": diversity, "long": stats(long), "short": stats(short)})
    return {"sampler": desc, "human": human_long, "rows": rows, "documents": len(test)}


def verdicts(found: dict) -> list[str]:
    human, out = found["human"], []
    for row in found["rows"]:
        for kind in ("long", "short"):
            r = row[kind]
            ok = r["stutters_per_100"] <= human["stutters_per_100"] and r["rep4"] <= 1.5 * human["rep4"]
            out.append(f"diversity {row['diversity']}, {kind} seeds: stutters {r['stutters_per_100']:.2f} per 100 words "
                       f"(human {human['stutters_per_100']:.2f}), repeated 4-grams {r['rep4']:.3f} (human {human['rep4']:.3f}, "
                       f"at most {1.5 * human['rep4']:.3f}): {'met' if ok else 'NOT met'}")
    return out


def markdown(found: dict, command: str) -> str:
    s = found["sampler"]
    lines = ["# Repetition against human text", "", f"Measured {datetime.date.today().isoformat()}; command: `{command}`.", "",
             f"Sampler: {', '.join(f'{k} {v}' for k, v in s.items())}, at each diversity. Long seeds: the first 50 words of "
             f"{found['documents']} test-split abstracts, 50 words written (the human text: the next 50). Short seeds: "
             f"{', '.join(repr(x) for x in SHORT_SEEDS)}, 4 samples of 100 words each.", "",
             "| diversity | stutters /100 (50-word seeds) | repeated 4-grams (50-word seeds) | stutters /100 (3-word seeds) | repeated 4-grams (3-word seeds) |",
             "|---|---|---|---|---|",
             f"| human | {found['human']['stutters_per_100']:.2f} | {found['human']['rep4']:.3f} | | |"]
    for r in found["rows"]:
        lines.append(f"| {r['diversity']} | {r['long']['stutters_per_100']:.2f} | {r['long']['rep4']:.3f} | "
                     f"{r['short']['stutters_per_100']:.2f} | {r['short']['rep4']:.3f} |")
    lines += ["", "## Targets", ""] + [f"- {v}" for v in verdicts(found)] + [""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.repetition", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model)")
    p.add_argument("--docs", type=int, default=120, help="test abstracts of 100+ words (default: %(default)s)")
    p.add_argument("--sampler", type=json.loads, default=None, help="a sampler description (default: the default sampler)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--out", default=str(HERE), help="where REPETITION.md and repetition.json go (default: bench/)")
    a = p.parse_args(argv)
    run = runs.load_inference(a.model)
    desc = {k: v for k, v in (a.sampler or DEFAULT_SAMPLER).items() if k != "temperature"}
    found = measure(run, desc, a.docs, a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "repetition.json").write_text(json.dumps(found, indent=1) + "\n")
    command = "python -m bench.repetition " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / "REPETITION.md").write_text(markdown(found, command))
    for line in verdicts(found):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
