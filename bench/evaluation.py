"""Evaluation speed: windows per second against training throughput, on the patents file and on a
corpus ten times larger.

    python -m bench.evaluation [--data ../shared/data/patents/neural_network_patent_query.csv]
                               [--model models/default] [--scale 10] [--work /tmp/patentgen-evaluation] [--out bench]

Two corpora: the real patents file with the shipped model (trained on it), and a corpus of
``--scale`` times as many abstracts (beyond the real ones synthetic, as ``bench.scale`` builds
them: 90% sampled from the shipped model, 10% near copies) with an untrained network of the
default recipe's shape (8,000-odd words, LSTM 256, embeddings 50, tied): a trained one costs the
same per window. For each corpus, on this machine, back to back:

* ``evaluation``: ``evaluate.evaluate_run`` as ``train.py`` runs it after training: the caches
  fitted on the validation split in its one pass, then the test split, every full-context window
  and every-position chunk, on all cores; seconds, windows per second, and the floating-point
  work per second that is (LSTM steps, the output layer);
* ``estimate``: what ``train.py`` says up front (``evaluate.estimate_seconds``), against it;
* ``reference``: the plain computation (``evaluate.reference_full_context``: ``last_logits``
  per window, a float64 log-softmax, ``CachedLM``'s mixed distribution) on the first
  ``--reference-windows`` test windows, extrapolated to what the evaluation before this path
  cost (a pass over validation to fit the caches, then both splits: 2 val + 1 test passes);
* ``training``: the default recipe on the corpus's training windows in a process of its own
  (``bench.scale``'s train stage: 20 batches to warm up, ``--train-batches`` timed), tokens per
  second and its floating-point work per second (forward and backward: 3 x the forward work);
* ``sgemm``: one core's single-precision matmul rate at the evaluation's shape, the compute limit.

The evaluation's share of the training budget that produced the model, both measured on this
machine at the same time, so that other work on the machine slows both alike: the budget is the
training work (tokens) that produced the model, at the training throughput measured here. For the
patents file, the shipped model's own training (its metrics.json: tokens per second x seconds);
for the larger corpus, which has no trained model, what the default 15-minute budget trains at
the shipped model's recorded throughput. Both recorded budgets (seconds on an idle machine of
this type) are reported beside them. Target: at most 25% at both sizes. Writes EVALUATION.md and
evaluation.json into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from patentgen import evaluate, pipeline, runs
from patentgen.cache import Caches
from patentgen.config import DEFAULT_MODEL_DIR, TrainConfig, default_data

TARGET_SHARE = 0.25


def lstm_flops(units: int, dim: int, vocab: int, layers: int = 1, window: int = 50) -> dict:
    """Floating-point operations (multiply-adds count 2) of the default recipe: per LSTM step,
    per output row (projection to the embedding width, then the tied output layer)."""
    step = sum(2 * ((dim if i == 0 else units) + units) * 4 * units for i in range(layers))
    output = 2 * units * dim + 2 * dim * vocab
    return {"step": step, "output": output, "window": window * step + output}


def random_default_lm(vocab: int, units: int = TrainConfig.units, dim: int = TrainConfig.embedding_dim, seed: int = 0):
    """An untrained numpy network of the default recipe's shape (a trained one costs the same)."""
    from patentgen import models

    rng = np.random.default_rng(seed)
    weights = {"embedding/embeddings": rng.normal(0, 0.3, (vocab, dim)), "lstm_0/kernel": rng.normal(0, 0.1, (dim, 4 * units)),
               "lstm_0/recurrent_kernel": rng.normal(0, 0.1, (units, 4 * units)), "lstm_0/bias": np.zeros(4 * units),
               "projection/kernel": rng.normal(0, 0.1, (units, dim)), "projection/bias": np.zeros(dim),
               "embedding/output_bias": np.zeros(vocab)}
    return models.get("lstm").numpy_lm({k: v.astype(np.float32) for k, v in weights.items()})


def sgemm_rate(units: int = 256, rows: int = evaluate.BLOCK, seconds: float = 1.0) -> float:
    """GFLOP/s of one core on the evaluation's matmul, (rows, units) x (units, 4 units), float32."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((rows, units), dtype=np.float32), rng.standard_normal((units, 4 * units), dtype=np.float32)
    best = float("inf")
    with threadpool_limits(limits=1, user_api="blas"):
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            for _ in range(20):
                a @ b
            best = min(best, (time.perf_counter() - began) / 20)
    return 2 * rows * units * 4 * units / best / 1e9


def time_evaluation(lm, sides: dict, reference_windows: int, flops: dict) -> dict:
    """The evaluation as train.py runs it, its up-front estimate, and the reference path on a prefix."""
    windows = {side: len(w.starts) for side, w in sides.items()}
    chunks = {side: len(w.chunks) for side, w in sides.items()}
    began = time.perf_counter()
    estimate = evaluate.estimate_seconds(lm, sides)
    estimate_cost = time.perf_counter() - began
    began = time.perf_counter()
    figures = evaluate.evaluate_run(lm, sides, fit_caches=True)
    seconds = time.perf_counter() - began
    test = sides["test"]
    part = test.starts[:reference_windows]
    caches = Caches(**{k: figures["caches"][k] for k in ("phrase", "word")})
    began = time.perf_counter()
    plain, cached = evaluate.reference_full_context(lm, test.flat, part, test.window, test.spelling, caches)
    per_window = (time.perf_counter() - began) / len(part)
    fast_part = evaluate.evaluate_split(lm, type(test)(test.flat, part, test.chunks[:0], test.window, test.spelling), caches).metrics
    total_windows = sum(windows.values())
    rate = total_windows / seconds  # chunks are counted as the work they add, not as windows
    old_passes = 2 * windows["val"] + windows["test"]
    return {
        "windows": windows, "chunks": chunks, "seconds": round(seconds, 3), "windows_per_second": round(rate, 1),
        "gflops": round(rate * flops["window"] / 1e9, 1), "threads": evaluate.workers(),
        "estimate_seconds": round(estimate, 1), "estimate_cost_seconds": round(estimate_cost, 2),
        "reference": {"windows": len(part), "seconds_per_window": round(per_window, 6),
                      "windows_per_second": round(1 / per_window, 1), "old_evaluation_seconds": round(old_passes * per_window, 1),
                      "speedup": round(old_passes * per_window / seconds, 1),
                      "same_figures": {f"{measure} {k}": reference[k] == fast_part[measure][k] for measure, reference in
                                       (("full_context", plain), ("cached", cached)) for k in ("ce", "acc", "top5", "targets")}},
        "figures": {side: figures[side] for side in sides}, "caches": figures["caches"],
    }


def time_training(data: Path, cache: Path, batches: int, window: int, flops: dict) -> dict:
    """The default recipe's training throughput on ``data`` (bench.scale's train stage, a process of its own)."""
    from bench.scale import run_stage

    found = run_stage("train", data, cache, batches, window)
    return {**found, "gflops": round(found["tokens_per_second"] * 3 * (flops["step"] + flops["output"]) / 1e9, 1)}


def prepare(data: Path, cache: Path, window: int):
    """The corpus prepared as train.py's defaults prepare it, in the prepared-corpus cache ``cache``
    (which the training stage's process reads)."""
    os.environ["PATENTGEN_CACHE"] = str(cache)
    prepared, _, _ = pipeline.prepare_corpus(TrainConfig(data=str(data), window=window))
    return prepared


def row(name: str, data: Path, lm, sides: dict, prepared, training_of, budget_tokens: float, budget_seconds: float,
        budget_kind: str, args, flops: dict, recorded: dict | None = None) -> dict:
    """One corpus: ``lm`` evaluated on ``sides`` ("val", "test" windows), the default recipe
    trained on ``prepared``'s training windows; the evaluation's share of the training budget,
    ``budget_tokens`` trained at the throughput measured here (``budget_seconds``: as recorded)."""
    print(f"{name}: evaluating {sum(len(w.starts) for w in sides.values()):,} windows", flush=True)
    found = time_evaluation(lm, sides, args.reference_windows, flops)
    print(f"{name}: {json.dumps({k: v for k, v in found.items() if k != 'figures'})}", flush=True)
    training = training_of(data)
    print(f"{name}: training {json.dumps(training)}", flush=True)
    train = prepared.windows["train"]
    epoch_seconds = train.targets("lstm") / training["tokens_per_second"]
    out = {"name": name, "data": str(data), "documents": prepared.documents, "vocab": len(prepared.tokenizer),
           "train_tokens": int(train.targets("lstm")), "evaluation": found, "training": training,
           "epoch_seconds": round(epoch_seconds, 1), "budget_kind": budget_kind, "budget_tokens": round(budget_tokens),
           "budget_seconds_here": round(budget_tokens / training["tokens_per_second"], 1),
           "budget_seconds_recorded": round(budget_seconds, 1),
           "share": round(found["seconds"] * training["tokens_per_second"] / budget_tokens, 3),
           "evaluation_in_epochs": round(found["seconds"] / epoch_seconds, 2)}
    if recorded is not None:  # each figure the run recorded, measured again
        out["same_as_metrics_json"] = {side: {measure: all(found["figures"][side][measure].get(k) == v for k, v in values.items())
                                              for measure, values in recorded[side].items()} for side in ("val", "test")}
    return out


def markdown(rows: list[dict], command: str, sgemm: float, cores: int) -> str:
    lines = ["# Evaluation speed", "",
             f"Written by `{command}` on {time.strftime('%Y-%m-%d')}; {cores} CPU cores shared with other work while it ran "
             "(the figures of one row were measured back to back, so their ratios hold better than their absolute values). "
             f"One core's float32 matmul at the evaluation's shape (256 x 256 x 1,024): {sgemm:.0f} GFLOP/s, "
             f"{cores} cores: {sgemm * cores:.0f} GFLOP/s, the compute limit.", "",
             "| corpus | abstracts | vocabulary | val + test windows | evaluation s | windows/s | GFLOP/s | said up front s | "
             "before this path s | speed-up | training tokens/s | training GFLOP/s | s per training epoch | "
             "training budget here s (recorded) | evaluation share of budget |",
             "|" + " --- |" * 15]
    for r in rows:
        e, t = r["evaluation"], r["training"]
        lines.append(f"| {r['name']} | {r['documents']:,} | {r['vocab']:,} | {sum(e['windows'].values()):,} | {e['seconds']:.1f} | "
                     f"{e['windows_per_second']:,.0f} | {e['gflops']:.0f} | {e['estimate_seconds']:.0f} | "
                     f"{e['reference']['old_evaluation_seconds']:,.0f} | {e['reference']['speedup']:.1f}x | {t['tokens_per_second']:,.0f} | "
                     f"{t['gflops']:.0f} | {r['epoch_seconds']:,.0f} | {r['budget_seconds_here']:,.0f} ({r['budget_seconds_recorded']:,.0f}: "
                     f"{r['budget_kind']}) | "
                     f"{r['share']:.1%} ({'met' if r['share'] <= TARGET_SHARE else 'NOT met'}) |")
    lines += ["", f"Target: evaluating both splits takes at most {TARGET_SHARE:.0%} of the training budget that produced the model.", ""]
    for r in rows:
        e = r["evaluation"]
        lines.append(f"- {r['name']}: the evaluation ({e['threads']} threads) fits the caches on {e['windows']['val']:,} validation "
                     f"windows in the pass that scores them, then scores {e['windows']['test']:,} test windows, and the "
                     f"every-position chunks ({sum(e['chunks'].values()):,}); it took {r['evaluation_in_epochs']:.2f} training "
                     f"epochs' time. The reference path, timed on {e['reference']['windows']:,} test windows "
                     f"({e['reference']['windows_per_second']:,.0f} windows/s), gives the same CE, accuracy and top-5 there, for the network and with its caches: "
                     f"{'yes' if all(e['reference']['same_figures'].values()) else 'NO ' + json.dumps(e['reference']['same_figures'])}.")
        if "same_as_metrics_json" in r:
            same = all(v for side in r["same_as_metrics_json"].values() for v in side.values())
            lines.append(f"  Every figure of the shipped model's metrics.json (both splits: full context, all positions, cached) "
                         f"reproduced exactly: {'yes' if same else 'NO ' + json.dumps(r['same_as_metrics_json'])}.")
    lines += ["", "GFLOP/s counts multiply-adds as 2: per window 50 LSTM steps and one output row; per training token one "
              "step and one output row, forward and backward (3 x forward). The training budget is training work, timed "
              "here: the tokens the shipped model was trained on (metrics.json), and for the larger corpus, which has no "
              "trained model, the tokens the default 15-minute `--max-minutes` trains at the shipped model's recorded "
              "throughput; each at the training throughput measured here, beside the recorded seconds (an idle machine)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.evaluation", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(default_data()), help="the real patents file (default: %(default)s)")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="a run trained on --data (default: the shipped model)")
    p.add_argument("--scale", type=int, default=10, help="the larger corpus: this many times the real file's abstracts (default: %(default)s)")
    p.add_argument("--work", default="/tmp/patentgen-evaluation", help="where the larger corpus and the caches go (default: %(default)s)")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results go (default: bench/)")
    p.add_argument("--reference-windows", type=int, default=2000, help="test windows the reference path is timed on (default: %(default)s)")
    p.add_argument("--train-batches", type=int, default=150, help="timed training batches per corpus (default: %(default)s)")
    args = p.parse_args(argv)
    from bench.scale import build_corpora

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    run = runs.load_inference(args.model)
    window = run.config["window"]
    flops = lstm_flops(run.lm.units, run.lm.embeddings.shape[1], run.lm.vocab_size, len(run.lm.cells), window)
    cores = evaluate.workers()
    sgemm = sgemm_rate(run.lm.units)
    print(f"sgemm: {sgemm:.1f} GFLOP/s per core, {cores} cores", flush=True)

    def cache_of(data: Path) -> Path:
        return work / f"cache-{data.name}"

    def training_of(data: Path) -> dict:
        return time_training(data, cache_of(data), args.train_batches, window, flops)

    data = Path(args.data)
    prepared = prepare(data, cache_of(data), window)
    if prepared.corpus_sha256 != run.config.get("corpus_sha256"):
        raise SystemExit(f"error: {args.model} was not trained on {args.data}; pass the corpus it was trained on")
    sides = {side: runs.split_windows(run, side, str(data)) for side in ("val", "test")}  # the run's own split and vocabulary
    recorded_rate = run.metrics["tokens_per_second"]
    real = row("patents file", data, run.lm, sides, prepared, training_of, recorded_rate * run.metrics["train_seconds"],
               run.metrics["train_seconds"], "the model's training", args, flops, {side: run.metrics[side] for side in ("val", "test")})
    size = prepared.documents * args.scale
    files, _ = build_corpora(args.data, [size], work)
    large = prepare(files[size], cache_of(files[size]), window)
    large_flops = lstm_flops(TrainConfig.units, TrainConfig.embedding_dim, len(large.tokenizer), 1, window)
    big = row(f"{args.scale}x, synthetic", files[size], random_default_lm(len(large.tokenizer)),
              {side: large.windows[side] for side in ("val", "test")}, large, training_of, recorded_rate * TrainConfig.max_minutes * 60,
              TrainConfig.max_minutes * 60, "the default --max-minutes", args, large_flops)
    rows = [real, big]
    out = Path(args.out)
    command = "python -m bench.evaluation " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / "evaluation.json").write_text(json.dumps({"sgemm_gflops_per_core": round(sgemm, 1), "cores": cores, "rows": rows}, indent=2) + "\n")
    (out / "EVALUATION.md").write_text(markdown(rows, command, sgemm, cores))
    print(f"wrote {out / 'EVALUATION.md'}, {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
