"""One count-model row of the leaderboard, in a process of its own (as every neural row is), so
its time and peak memory are its alone: prepares the corpus as ``train.py`` does, fits the
model on the training side, fits the word and phrase caches on the validation side exactly as
``train.py`` fits a network's (``cache.fit_windows``), and scores the test side's full-context
windows with the model alone and with its caches.

    python -m bench.count_row --data FILE --model mkn-5 [--window 50] [--min-count 2]
    python -m bench.count_row --data FILE --model mkn-5 --pretrain EXTRA.csv --mix interpolate

Prints the row as one line of JSON. Models: ``unigram``, ``kn-N`` (interpolated Kneser-Ney),
``mkn-N`` (modified Kneser-Ney). With ``--pretrain`` the count model gets the extra text that
``train.py --pretrain`` gives a network, prepared by the same code (``patentgen.pretrain``: the
target's vocabulary, near-duplicates of held-out documents removed), either concatenated to the
training side (``--mix concat``) or as a second model interpolated with the target's, its weight
fitted on validation (``--mix interpolate``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from patentgen import cache, evaluate, ngram, pipeline, pretrain
from patentgen.trainer import peak_rss_mb
from patentgen.config import TrainConfig


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
    p.add_argument("--pretrain", nargs="+", metavar="FILE", help="extra text, as train.py --pretrain takes it")
    p.add_argument("--mix", choices=("concat", "interpolate"), default="concat", help="how the extra text joins (default: %(default)s)")
    p.add_argument("--split-seed", type=int, default=TrainConfig.split_seed, help="seed of the grouped split (default: %(default)s)")
    args = p.parse_args(argv)
    cfg = TrainConfig(data=args.data, window=args.window, min_count=args.min_count, split_seed=args.split_seed)
    prepared, _, _ = pipeline.prepare_corpus(cfg)
    train, val, test = (prepared.windows[side] for side in ("train", "val", "test"))
    docs, vocab = pretrain.documents(train.flat), len(prepared.tokenizer)
    start = time.perf_counter()
    extra = None
    if args.pretrain:
        held_out = [doc for side in ("val", "test") for doc in prepared.held_out[side]]
        extra = pretrain.prepare(args.pretrain, prepared.tokenizer, cfg.corpus, held_out)
    if extra and args.mix == "concat":
        model = build(args.model, docs + extra.docs, vocab)
    elif extra:
        target, other = build(args.model, docs, vocab), build(args.model, extra.docs, vocab)
        goal = val.starts + val.window
        model = ngram.Mixture(target, other, ngram.fit_weight(target, other, val.flat[val.starts[:, None] + np.arange(val.window)], val.flat[goal]))
    else:
        model = build(args.model, docs, vocab)
    seconds = time.perf_counter() - start
    caches, _, _ = cache.fit_windows(model, val)  # on validation, as train.py fits a network's
    result = evaluate.evaluate_windows(model, test, caches=caches)
    extras = {"pretrain": {**extra.summary(), "mix": args.mix, **({"weight": model.weight} if args.mix == "interpolate" else {})}} if extra else {}
    print(json.dumps({"metrics": result, **extras, "vocab": len(prepared.tokenizer), "train_seconds": round(seconds, 1),
                      "tokens_per_second": round(len(train.flat) / seconds, 1), "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
