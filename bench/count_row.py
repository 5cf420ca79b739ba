"""One count-model row of the leaderboard, in a process of its own (as every neural row is), so
its time and peak memory are its alone: prepares the corpus as ``train.py`` does, fits the
model on the training side and scores the test side's full-context windows.

    python -m bench.count_row --data FILE --model mkn-5 [--window 50] [--min-count 2]

Prints the row as one line of JSON. Models: ``unigram``, ``kn-N`` (interpolated Kneser-Ney),
``mkn-N`` (modified Kneser-Ney).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from patentgen import evaluate, ngram, pipeline
from patentgen.commands.train import peak_rss_mb
from patentgen.config import TrainConfig
from patentgen.tokenizer import BOS_ID


def build(name: str, docs: list[np.ndarray], vocab: int):
    """The count model a row name asks for."""
    if name == "unigram":
        return ngram.Unigram(docs, vocab)
    kind, _, order = name.partition("-")
    if kind not in ("kn", "mkn") or not order.isdigit() or not 1 <= int(order) <= ngram.MAX_ORDER:
        raise SystemExit(f"error: unknown count model {name!r}; use unigram, kn-N or mkn-N with N from 1 to {ngram.MAX_ORDER}")
    return ngram.KneserNey(docs, vocab, int(order), modified=kind == "mkn")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.count_row", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="the corpus file")
    p.add_argument("--model", required=True, help="unigram, kn-N or mkn-N")
    p.add_argument("--window", type=int, default=TrainConfig.window, help="context words of each test target (default: %(default)s)")
    p.add_argument("--min-count", type=int, default=TrainConfig.min_count, help="the vocabulary rule (default: %(default)s)")
    args = p.parse_args(argv)
    cfg = TrainConfig(data=args.data, window=args.window, min_count=args.min_count)
    prepared, _, _ = pipeline.prepare_corpus(cfg)
    train, test = prepared.windows["train"], prepared.windows["test"]
    docs = np.split(train.flat, np.flatnonzero(train.flat == BOS_ID)[1:])
    start = time.perf_counter()
    model = build(args.model, docs, len(prepared.tokenizer))
    seconds = time.perf_counter() - start
    result = evaluate.full_context(model, test.flat, test.starts, test.window, spelling=test.spelling)
    print(json.dumps({"metrics": result, "vocab": len(prepared.tokenizer), "train_seconds": round(seconds, 1),
                      "tokens_per_second": round(len(train.flat) / seconds, 1), "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
