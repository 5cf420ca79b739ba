"""Short seeds: how each sampler setting behaves from a three-word seed, as a user types one,
and which setting ``generate.py`` should use by default.

    python -m bench.short_seeds                 # after bench.generation (reads its generation.json)

``bench.generation`` measures continuations of 50-word seeds (the game's case). A user of
``generate.py`` types a few words, so the caches and penalties see mostly the model's own text,
where a loop feeds itself. For every test-split abstract of at least 63 words, the first 3 words
are the seed and words 4-63 the human reference; each setting of ``bench.generation`` writes 60
words per seed. Measured per setting: 4-gram repetition (inside the continuation, and with the
seed), repeated words, distinct-1/2, and the longest run of one repeated word.

The default is chosen by rule, from both files: among the settings with one fixed temperature,
those whose repetition (both measures) is within 1.25x the human rate from long and from short
seeds, the one the trained judge of ``bench.generation`` finds hardest (lowest accuracy).
Writes ``SHORT_SEEDS.md`` and ``short_seeds.json`` into ``--out`` (default: bench/).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

from bench.generation import FITTED, SETTINGS, continuations, text_stats
from patentgen import runs, sampling
from patentgen.config import DEFAULT_MODEL_DIR
from patentgen.tokenizer import detokenize

SEED, WORDS = 3, 60
LIMIT = 1.25  # repetition allowed, as a multiple of the human rate
REPEATS = ("rep4", "rep4_with_seed")


def longest_run(words: list[str]) -> int:
    """The longest stretch of one word repeated back to back ("sample sample sample" is 3)."""
    best = run = 1 if words else 0
    for prev, word in zip(words, words[1:]):
        run = run + 1 if word == prev and word[:1].isalnum() else 1
        best = max(best, run)
    return best


def stats(pairs: list[tuple[list[str], list[str]]], is_oov) -> dict:
    row = text_stats(pairs, is_oov)
    row["longest_run"] = int(max(longest_run(c) for _, c in pairs))
    return row


def within(row: dict, human: dict) -> bool:
    return all(row[k] <= LIMIT * human[k] + 1e-12 for k in REPEATS)


def choose(long_rows: list[dict], long_human: dict, short_rows: dict[str, dict], short_human: dict) -> dict | None:
    """The fixed-temperature setting with the lowest trained-judge accuracy whose repetition is
    within ``LIMIT`` x human from long and short seeds; None if no setting qualifies."""
    fits = [r for r in long_rows if "band" not in r["sampler"] and r["setting"] in short_rows
            and within(r, long_human) and within(short_rows[r["setting"]], short_human)]
    return min(fits, key=lambda r: r["judge_accuracy"], default=None)


def markdown(human: dict, rows: list[dict], header: list[str], pick: dict | None) -> str:
    cols = [("rep4", "4-gram rep.", "{:.3f}"), ("rep4_with_seed", "rep. with seed", "{:.3f}"),
            ("repeated_words", "repeated words", "{:.3f}"), ("distinct1", "distinct-1", "{:.3f}"),
            ("distinct2", "distinct-2", "{:.3f}"), ("longest_run", "longest run of one word", "{}"),
            ("judge_accuracy", "trained judge acc. (50-word seeds)", "{:.1%}")]
    lines = ["# Short seeds", "", *header, "", "| setting | " + " | ".join(c[1] for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for row in [human] + rows:
        cells = [fmt.format(row[k]) if row.get(k) is not None else "" for k, _, fmt in cols]
        lines.append(f"| {row['setting']} | " + " | ".join(cells) + " |")
    lines += ["", f"Rule: among settings with one fixed temperature whose 4-gram repetition (both measures) is within "
              f"{LIMIT}x the human rate from 50-word seeds (`GENERATION.md`) and from {SEED}-word seeds (above), the one "
              "with the lowest trained-judge accuracy.", ""]
    if pick:
        lines.append(f"**Chosen default: {pick['setting']}** (`{json.dumps(pick['sampler'])}`), trained judge "
                     f"{pick['judge_accuracy']:.1%}.")
    else:
        lines.append("**No setting meets the rule.**")
    lines += ["", "## One sample per setting (the first test seed)", ""]
    lines += [f"- **{r['setting']}**: {r['example']}" for r in [human] + rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.short_seeds", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model)")
    p.add_argument("--data", help="the corpus the run was trained on (default: the path it recorded)")
    p.add_argument("--generation", default=str(Path(__file__).parent / "generation.json"),
                   help="bench.generation's results for the same model (default: %(default)s)")
    p.add_argument("--random-seed", type=int, default=0, help="seed of the samples (default: %(default)s)")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results go (default: bench/)")
    args = p.parse_args(argv)
    measured = json.loads(Path(args.generation).read_text())
    run = runs.load_inference(args.model)
    texts = runs.corpus_texts(run, args.data)
    docs = [run.tokenizer.text_to_tokens(texts[i]) for i in runs.split_indices(run, "test")]
    test = [(d[:SEED], d[SEED : SEED + WORDS]) for d in docs if len(d) >= SEED + WORDS]
    human = {"setting": "human (the real continuation)", **stats(test, run.tokenizer.is_oov), "example": detokenize(test[0][1])}
    fitted = measured["fitted_caches"]
    rows = []
    for label, desc in SETTINGS:
        desc = dict(desc)
        if desc.pop(FITTED, False):
            desc = {**desc, "phrase_cache": fitted["phrase_cache"], "word_cache": fitted["word_cache"]}
        band = desc.pop("band", None)
        sampler = sampling.from_description({**desc, "temperature": desc.get("temperature", float(np.mean(band)) if band else 1.0)})
        samples = continuations(run, test, sampler, np.random.default_rng(args.random_seed), band)
        long_row = next((r for r in measured["rows"] if r["setting"] == label), {})
        row = {"setting": label, **stats([(s, c) for (s, _), c in zip(test, samples)], run.tokenizer.is_oov),
               "judge_accuracy": long_row.get("judge_accuracy"), "example": detokenize(test[0][0] + samples[0])}
        rows.append(row)
        print(f"{label:45s} rep4 {row['rep4']:.3f} / {row['rep4_with_seed']:.3f} (human {human['rep4']:.3f} / "
              f"{human['rep4_with_seed']:.3f})  longest run {row['longest_run']}", flush=True)
    pick = choose(measured["rows"], measured["human"], {r["setting"]: r for r in rows}, human)
    header = [f"Measured {datetime.date.today().isoformat()}, model `{run.path}`, random seed {args.random_seed}.",
              f"Command: `python -m bench.short_seeds {' '.join(argv if argv is not None else sys.argv[1:])}`",
              f"{len(test)} test-split abstracts of at least {SEED + WORDS} words: the first {SEED} words are the seed, "
              f"the next {WORDS} the human reference; one {WORDS}-word continuation per seed and setting "
              "(the settings of `bench.generation`; the trained judge's accuracy is copied from its `generation.json`)."]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "short_seeds.json").write_text(json.dumps({"header": header, "human": human, "rows": rows,
                                                       "chosen": pick and {"setting": pick["setting"], "sampler": pick["sampler"]}},
                                                      indent=2) + "\n")
    (out / "SHORT_SEEDS.md").write_text(markdown(human, rows, header, pick))
    print(f"chosen default: {pick['setting'] if pick else 'none'}; wrote {out / 'SHORT_SEEDS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
