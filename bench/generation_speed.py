"""Generation speed: state-carrying decoding against re-running the whole window per word.

    python -m bench.generation_speed [--model models/default] [--words 500]

Both generate from the same seed in the same run. The incremental path feeds the seed once and
then steps the LSTM one word at a time (numpy, ``generation.continue_text``); the baseline does
what the published notebook did: for every new word, run the Keras model on the last 50 words.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from patentgen import generation, runs, sampling
from patentgen.config import DEFAULT_MODEL_DIR

SAMPLER = sampling.Sampler(0.8)
SEED = "a method for training a neural network comprising receiving input data from a sensor"


def incremental_ms(run, n_words: int, repeat: int) -> float:
    times = []
    for r in range(repeat):
        start = time.perf_counter()
        generation.continue_text(run, SEED, n_words, np.random.default_rng(r), SAMPLER)
        times.append((time.perf_counter() - start) * 1000 / n_words)
    return float(np.median(times))


def full_window_ms(run, n_words: int) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    model = runs.load_keras(run.path)
    window = run.config["window"]
    _, ids = generation.seed_ids(run, SEED)
    rng = np.random.default_rng(0)
    model(np.asarray([ids[-window:]], np.int32), training=False)  # build / warm up
    start = time.perf_counter()
    for _ in range(n_words):
        logits = np.asarray(model(np.asarray([ids[-window:]], np.int32), training=False))[0]
        logits = logits[-1] if logits.ndim == 2 else logits
        ids.append(SAMPLER.next_id(logits, rng, ids, generation.banned_ids(run)))
    return (time.perf_counter() - start) * 1000 / n_words


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: %(default)s)")
    p.add_argument("--words", type=int, default=500, help="words per generation (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=5, help="repetitions of the incremental run; median shown (default: %(default)s)")
    p.add_argument("--baseline-words", type=int, default=100, help="words for the slow full-window baseline (default: %(default)s)")
    a = p.parse_args()
    run = runs.load_inference(a.model)
    fast = incremental_ms(run, a.words, a.repeat)
    slow = full_window_ms(run, a.baseline_words)
    print(f"model {a.model}: {run.config['arch']}, {run.lm.units} units, vocabulary {len(run.tokenizer)}")
    print(f"  state-carrying decode (numpy), seed included : {fast:8.3f} ms/word over {a.words} words (median of {a.repeat})")
    print(f"  full {run.config['window']}-word window per word (Keras)  : {slow:8.3f} ms/word over {a.baseline_words} words")
    print(f"  speed-up                                     : {slow / fast:8.1f}x")


if __name__ == "__main__":
    main()
