"""Scale: how preparing, training, evaluating and the Kneser-Ney baseline grow with the corpus.

    python -m bench.scale [--data ../shared/data/patents/neural_network_patent_query.csv]
                          [--sizes 3522,10000,30000,100000] [--work /tmp/patentgen-scale] [--out bench]

Builds corpora of the given numbers of abstracts: the real file, then (beyond its 3,522) synthetic
abstracts, labelled so: 90% sampled from the shipped model (temperature 1, ``<unk>`` never
drawn, lengths drawn from the real abstracts') and 10% near-duplicate copies of earlier ones with
1 to 5 words replaced, deleted or inserted, so the grouping has work to do. Each is written as a
gzipped PatentsView-style ``.tsv.gz``. For every size, each stage runs in a process of its own,
so its time and peak memory (VmHWM) are its alone:

* ``prepare``: from scratch into an empty cache: read, clean+tokenise, group+split, vocabulary,
  encode+windows, cache write (each timed);
* ``cached``: the same preparation again, from the cache;
* ``train``: the default LSTM on the memory-mapped training windows: 20 batches to warm up, then
  ``--train-batches`` timed; reported per million training tokens;
* ``evaluate``: the evaluation ``train.py`` runs after training (``evaluate.evaluate_run``: the
  caches fitted on the validation split in the pass that scores it, then the test split), with
  an untrained network of the default recipe's shape (a trained one costs the same), on the first
  ``--eval-windows`` windows of each split (and the same share of their chunks), timed, and
  extrapolated to every window as the train stage is to an epoch;
* ``kn``: Kneser-Ney 5 fitted on the training ids and scored on the test side's full-context
  targets; the fit's processor time split into user (the counting itself) and system (mostly
  the kernel backing the fresh memory the fit touches).

Then a memory probe: new processes write ``--probes`` megabytes of fresh memory each, with
numpy's default advice to the kernel (transparent huge pages, on Linux 4.6 and later) and
without it (``NUMPY_MADVISE_HUGEPAGE=0`` in the process's environment), the sizes in turn three times,
so the report shows what first touching memory costs on this machine at a small and a large
size, both ways, and how much that varies.

Writes SCALE.md, scale.json and scale.png (log-log time against tokens) into --out.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from patentgen import pipeline
from patentgen.config import DEFAULT_MODEL_DIR, TrainConfig, default_data

STAGES = ("prepare", "cached", "train", "evaluate", "kn")
PREPARE_LAPS = ("read", "clean+tokenise", "group+split", "vocabulary", "encode+windows", "cache write")
SLOPE_TARGET = 1.1
PROBE_PAGES = ("numpy", "small")  # numpy's huge page advice as it is, and turned off (NUMPY_MADVISE_HUGEPAGE=0)
PROBE_ROUNDS = 3  # the memory probe's sizes, in turn, this many times: its cost varies from run to run
TARGETS = {"prepare_seconds": 240, "cached_seconds": 10, "prepare_mb": 2048, "train_mb": 1536, "kn_mb": 3072}


def cpu_seconds() -> tuple[float, float]:
    """This process's user and system processor seconds so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def peak_mb() -> float:
    from patentgen.trainer import peak_rss_mb

    return peak_rss_mb()


# ---- synthetic corpora -------------------------------------------------------------------------

def sample_docs(lengths: np.ndarray, seed: int, batch: int = 512) -> list[list[int]]:
    """Documents of the given lengths (ids) sampled from the shipped model's numpy LSTM, a batch
    at a time (rows of similar length together), at temperature 1, never ``<unk>``, ``<pad>`` or
    ``<s>``: float32 softmax, then inverse-CDF draws."""
    from patentgen import runs
    from patentgen.tokenizer import BOS_ID, PAD_ID, UNK_ID

    lm, rng = runs.load_inference(DEFAULT_MODEL_DIR).lm, np.random.default_rng(seed)
    order = np.argsort(lengths, kind="stable")
    docs: list[list[int]] = [[] for _ in lengths]
    for begin in range(0, len(order), batch):
        rows = order[begin : begin + batch]
        ids, state = np.full((len(rows), 1), BOS_ID), None
        out = np.empty((len(rows), int(lengths[rows].max())), np.int64)
        for t in range(out.shape[1]):
            hidden, state = lm.hidden(ids, state)
            weights = lm.logits(hidden[:, -1]).astype(np.float32)  # (B, V)
            weights[:, [PAD_ID, UNK_ID, BOS_ID]] = -np.inf
            weights -= weights.max(axis=1, keepdims=True)
            np.exp(weights, out=weights)
            np.cumsum(weights, axis=1, out=weights)  # (B, V) unnormalised CDF
            drawn = (weights < (rng.random(len(rows), dtype=np.float32) * weights[:, -1])[:, None]).sum(axis=1)
            out[:, t] = np.minimum(drawn, weights.shape[1] - 1)
            ids = out[:, t : t + 1]
        for row, doc in zip(rows, out):
            docs[row] = doc[: lengths[row]].tolist()
    return docs


def sample_parallel(lengths: np.ndarray, seed: int, workers: int = 2) -> list[list[int]]:
    """``sample_docs`` split over ``workers`` processes (one BLAS thread each)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    os.environ.update({name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})  # for the new processes
    parts = np.array_split(lengths, workers)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = pool.map(sample_docs, parts, [seed + i for i in range(workers)])
        return [doc for part in done for doc in part]


def near_copy(words: list[str], vocab: list[str], rng: np.random.Generator) -> list[str]:
    """``words`` with 1 to 5 words replaced, deleted or inserted."""
    words = list(words)
    for _ in range(int(rng.integers(1, 6))):
        at = int(rng.integers(0, max(len(words), 1)))
        edit = rng.integers(0, 3)
        if edit == 0 and words:
            words[at] = vocab[int(rng.integers(3, len(vocab)))]
        elif edit == 1 and len(words) > 1:
            del words[at]
        else:
            words.insert(at, vocab[int(rng.integers(3, len(vocab)))])
    return words


def synthetic_abstracts(count: int, real_tokens: list[list[str]], seed: int = 0) -> list[str]:
    """``count`` synthetic abstracts (90% model samples, 10% near copies of earlier ones)."""
    from patentgen import runs
    from patentgen.tokenizer import detokenize

    vocab = list(runs.load_inference(DEFAULT_MODEL_DIR).tokenizer.vocab)
    rng = np.random.default_rng(seed)
    copies = rng.random(count) < 0.1
    lengths = rng.choice(np.array([len(doc) for doc in real_tokens if doc]), size=int((~copies).sum()))
    sampled = iter(sample_parallel(lengths, seed + 1))
    docs: list[list[str]] = []
    for is_copy in copies:
        if is_copy and docs:
            docs.append(near_copy(docs[int(rng.integers(0, len(docs)))], vocab, rng))
        else:
            docs.append([vocab[i] for i in next(sampled)])
    return [detokenize(words, capitalize=True) for words in docs]


def write_corpus(path: Path, real: list[str], synthetic: list[str]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["patent_id", "patent_abstract"])
        for i, text in enumerate(real):
            writer.writerow([f"real-{i}", text])
        for i, text in enumerate(synthetic):
            writer.writerow([f"synthetic-{i}", text])


def build_corpora(data: str, sizes: list[int], work: Path) -> tuple[dict[int, Path], int]:
    """The corpus file of each size (the real file itself up to its own size), built once in
    ``work``, and how many real abstracts there are."""
    from patentgen import corpus

    real = corpus.read_texts(data)
    largest = max(sizes) - len(real)
    pool_file = work / f"synthetic-{largest}.json"
    if largest > 0 and not pool_file.is_file():
        started = time.perf_counter()
        tokens = [corpus.text_tokens(text) for text in real]
        pool = synthetic_abstracts(largest, tokens)
        pool_file.write_text(json.dumps(pool), encoding="utf-8")
        print(f"sampled {largest:,} synthetic abstracts in {time.perf_counter() - started:.0f} s", flush=True)
    pool = json.loads(pool_file.read_text(encoding="utf-8")) if largest > 0 else []
    files = {}
    for size in sizes:
        if size == len(real):
            files[size] = Path(data)
            continue
        files[size] = work / f"corpus-{size}.tsv.gz"
        if not files[size].is_file():
            write_corpus(files[size], real[:size], pool[: max(size - len(real), 0)])
    return files, len(real)


# ---- stages, each in its own process ------------------------------------------------------------

class CpuLaps(pipeline.Laps):
    """``pipeline.Laps`` that also keep each stage's user and system processor seconds."""

    def __init__(self):
        super().__init__()
        self.cpu: dict[str, dict[str, float]] = {}
        self._cpu = cpu_seconds()

    def __call__(self, name: str) -> None:
        super().__call__(name)
        now, spent = cpu_seconds(), self.cpu.setdefault(name, {"user": 0.0, "system": 0.0})
        spent["user"] += now[0] - self._cpu[0]
        spent["system"] += now[1] - self._cpu[1]
        self._cpu = now


def stage_prepare(cfg: TrainConfig) -> dict:
    laps = CpuLaps()
    started = time.perf_counter()
    prepared, _, origin = pipeline.prepare_corpus(cfg, laps=laps)
    train = prepared.windows["train"]
    return {"origin": origin, "seconds": round(time.perf_counter() - started, 4), "laps": {k: round(v, 4) for k, v in laps.seconds.items()},
            "lap_cpu": {name: {kind: round(value, 3) for kind, value in spent.items()} for name, spent in laps.cpu.items()},
            "documents": prepared.documents, "tokens": int(sum(len(w.flat) for w in {id(w): w for w in prepared.windows.values()}.values())),
            "train_tokens": int(len(train.flat)), "groups": len(set(prepared.split.groups)) if prepared.split else None,
            "vocab": len(prepared.tokenizer), "peak_mb": peak_mb()}


def stage_train(cfg: TrainConfig, batches: int) -> dict:
    from patentgen import training
    from patentgen.model import compile_model
    from patentgen.models import build_model
    from patentgen.windows import count_targets

    prepared, _, _ = pipeline.prepare_corpus(cfg)
    train = prepared.windows["train"]
    training.seed_everything(cfg.seed)
    model = compile_model(build_model(len(prepared.tokenizer), cfg.arch, cfg.embedding_dim, None, True, cfg.layers, cfg.units,
                                      cfg.dropout, cfg.tie_embeddings), cfg.learning_rate)
    batches = max(1, min(batches, train.steps(cfg.arch, cfg.batch_size) - 20))
    data = train.dataset(cfg.arch, cfg.batch_size, cfg.seed, 0, 1)
    model.fit(data.take(20), verbose=0)  # compile and warm up
    started = time.perf_counter()
    model.fit(data.skip(20).take(batches), verbose=0)
    seconds = time.perf_counter() - started
    tokens = batches * cfg.batch_size * count_targets(train.chunks) / max(len(train.chunks), 1)  # mean targets per chunk
    return {"batches": batches, "seconds": round(seconds, 2), "seconds_per_million_tokens": round(seconds * 1e6 / tokens, 1),
            "tokens_per_second": round(tokens / seconds, 1), "peak_mb": peak_mb()}


def stage_evaluate(cfg: TrainConfig, windows: int) -> dict:
    from bench.evaluation import random_default_lm
    from patentgen import evaluate
    from patentgen.windows import Windows

    prepared, _, _ = pipeline.prepare_corpus(cfg)
    sides, total = {}, 0
    for side in ("val", "test"):
        found = prepared.windows[side]
        share = min(1.0, windows / max(len(found.starts), 1))
        sides[side] = Windows(found.flat, found.starts[:windows], found.chunks[: int(round(len(found.chunks) * share))], found.window,
                              found.spelling)
        total += len(found.starts)
    lm = random_default_lm(len(prepared.tokenizer), cfg.units, cfg.embedding_dim)
    started = time.perf_counter()
    evaluate.evaluate_run(lm, sides, fit_caches=True)
    seconds, measured = time.perf_counter() - started, sum(len(w.starts) for w in sides.values())
    return {"windows": total, "measured_windows": measured, "seconds": round(seconds, 2),
            "seconds_per_million_windows": round(seconds * 1e6 / measured, 1), "all_seconds": round(seconds * total / measured, 1),
            "threads": evaluate.workers(), "peak_mb": peak_mb()}


def stage_kn(cfg: TrainConfig) -> dict:
    from patentgen import ngram
    from patentgen.tokenizer import BOS_ID

    prepared, _, _ = pipeline.prepare_corpus(cfg)
    train, test = prepared.windows["train"], prepared.windows["test"]
    flat = np.asarray(train.flat)
    started, (user, system) = time.perf_counter(), cpu_seconds()
    model = ngram.KneserNey(np.split(flat, np.flatnonzero(flat == BOS_ID)[1:]), len(prepared.tokenizer), 5)
    fit, (user_after, system_after) = time.perf_counter() - started, cpu_seconds()
    test_flat, starts = np.asarray(test.flat), np.asarray(test.starts)
    contexts = test_flat[starts[:, None] + np.arange(test.window - 4, test.window)[None, :]]  # (N, 4)
    started = time.perf_counter()
    logprob = model.logprob(contexts, test_flat[starts + test.window])
    return {"fit_seconds": round(fit, 2), "fit_user_seconds": round(user_after - user, 2),
            "fit_system_seconds": round(system_after - system, 2),
            "test_seconds": round(time.perf_counter() - started, 2), "test_targets": int(len(starts)),
            "test_ce": round(float(-logprob.mean()), 4), "peak_mb": peak_mb()}


def stage_touch(megabytes: int, pages: str) -> dict:
    """Writes ``megabytes`` of memory this process never touched, timed; ``pages`` only labels the
    result (``run_stage`` turns numpy's huge page advice off for ``"small"``, through the
    environment numpy reads when it is imported)."""
    started, (_, system) = time.perf_counter(), cpu_seconds()
    block = np.ones(megabytes << 17, np.int64)  # (MB * 2**20 / 8,)
    seconds, (_, system_after) = time.perf_counter() - started, cpu_seconds()
    del block
    return {"mb": megabytes, "pages": pages, "seconds": round(seconds, 3), "system_seconds": round(system_after - system, 3),
            "seconds_per_gb": round(seconds * 1024 / megabytes, 2)}


def run_stage(stage: str, data: Path, cache: Path, batches: int, window: int, probe_mb: int = 0, pages: str = "numpy",
              eval_windows: int = 30000) -> dict:
    cmd = [sys.executable, "-m", "bench.scale", "--stage", stage, "--data", str(data), "--train-batches", str(batches),
           "--window", str(window), "--probe-mb", str(probe_mb), "--probe-pages", pages, "--eval-windows", str(eval_windows)]
    env = {**os.environ, "PATENTGEN_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if pages == "small":
        env["NUMPY_MADVISE_HUGEPAGE"] = "0"
    done = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: stage {stage} on {data} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- report -------------------------------------------------------------------------------------

def slope(rows: list[dict], value, low: int, high: int) -> float | None:
    """Log-log slope of ``value(row)`` against tokens between the sizes ``low`` and ``high``."""
    by = {r["size"]: r for r in rows}
    if low not in by or high not in by:
        return None
    a, b = by[low], by[high]
    if min(value(a), value(b)) <= 0:
        return None  # too quick to time
    return round(math.log(value(b) / value(a)) / math.log(b["prepare"]["tokens"] / a["prepare"]["tokens"]), 2)


MEASURES = {
    "read": lambda r: r["prepare"]["laps"]["read"],
    "clean+tokenise": lambda r: r["prepare"]["laps"]["clean+tokenise"],
    "group+split": lambda r: r["prepare"]["laps"]["group+split"],
    "vocabulary": lambda r: r["prepare"]["laps"]["vocabulary"],
    "encode+windows": lambda r: r["prepare"]["laps"]["encode+windows"],
    "prepare (all)": lambda r: r["prepare"]["seconds"],
    "from the cache": lambda r: r["cached"]["seconds"],
    "train, s per 1M tokens x tokens": lambda r: r["train"]["seconds_per_million_tokens"] * r["prepare"]["train_tokens"] / 1e6,
    "evaluate both splits": lambda r: r["evaluate"]["all_seconds"],
    "kn-5 fit": lambda r: r["kn"]["fit_seconds"],
    "kn-5 test": lambda r: r["kn"]["test_seconds"],
}
CPU = {  # user and system processor seconds of the stages that report them
    **{name: lambda r, kind, name=name: r["prepare"]["lap_cpu"].get(name, {}).get(kind, 0.0) for name in PREPARE_LAPS},
    "kn-5 fit": lambda r, kind: r["kn"][f"fit_{kind}_seconds"],
}


def processor_time(rows: list[dict], probes: list[dict], low: int, high: int) -> list[str]:
    """Each stage's processor time by kind at the largest size, the slope of its user time (the
    work itself), the Kneser-Ney fit's split at every size, and the memory probe."""
    big = next((r for r in rows if r["size"] == high), None)
    lines = ["", f"Processor seconds at {high:,} abstracts, user (the work itself) and system (mostly the kernel "
             f"backing fresh memory), and the log-log slope of user time between {low:,} and {high:,}:", ""]
    for name, value in CPU.items():
        user = slope(rows, lambda r: value(r, "user"), low, high)
        at = f"{value(big, 'user'):.2f} user, {value(big, 'system'):.2f} system; " if big else ""
        lines.append(f"- {name}: {at}user slope {user}")
    lines += ["", "Kneser-Ney 5 fit:", "", "| abstracts | fit s | user s | system s | kn-5 MB |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['size']:,} | {r['kn']['fit_seconds']:.2f} | {r['kn']['fit_user_seconds']:.2f} | "
              f"{r['kn']['fit_system_seconds']:.2f} | {r['kn']['peak_mb']:,.0f} |" for r in rows]
    if probes:
        advice = {"numpy": "huge pages advised (numpy's default)", "small": "not advised (NUMPY_MADVISE_HUGEPAGE=0)"}
        lines += ["", "Memory probe, a new process writing memory it never touched:", ""]
        lines += [f"- {p['mb']:,} MB, {advice[p['pages']]}: {p['seconds']:.3f} s ({p['system_seconds']:.3f} s system), "
                  f"{p['seconds_per_gb']:.2f} s per GB" for p in probes]
    return lines


def evaluation_lines(rows: list[dict]) -> list[str]:
    """What the evaluation after training costs beside one epoch of training, at every size."""
    lines = ["", "The evaluation after training (caches fitted on validation, both splits scored; timed on the first "
             "windows of each split, as noted, and extrapolated to all of them, as training is from its timed batches), "
             "against one epoch of training:", ""]
    for r in rows:
        e = r["evaluate"]
        epoch = r["train"]["seconds_per_million_tokens"] * r["prepare"]["train_tokens"] / 1e6
        lines.append(f"- {r['size']:,} abstracts: {e['windows']:,} windows, {e['all_seconds']:,.1f} s ({e['measured_windows']:,} "
                     f"timed in {e['seconds']:.1f} s on {e['threads']} threads), {e['all_seconds'] / epoch:.2f} of an epoch's "
                     f"{epoch:,.0f} s; {e['all_seconds'] / (TrainConfig.max_minutes * 60):.1%} of the default "
                     f"{TrainConfig.max_minutes:g}-minute budget")
    return lines


def markdown(rows: list[dict], command: str, low: int, high: int, probes: list[dict]) -> str:
    header = ["abstracts", "synthetic", "tokens", "groups", "vocabulary", *PREPARE_LAPS, "prepare s", "prepare MB", "cached s",
              "cached MB", "train s/1M tokens", "train MB", "eval windows", "eval s/1M windows", "eval s", "eval MB",
              "kn-5 fit s", "kn-5 test s", "kn-5 CE", "kn-5 MB"]
    lines = ["# Scale", "", f"Written by `{command}` on {time.strftime('%Y-%m-%d')}; 2 CPU cores. "
             "Abstracts beyond the real file's are synthetic (90% sampled from the shipped model, "
             "10% near-duplicate copies with small edits); each stage ran in a process of its own.", "",
             "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        p, c, t, e, k = r["prepare"], r["cached"], r["train"], r["evaluate"], r["kn"]
        cells = [f"{r['size']:,}", f"{r['synthetic']:,}", f"{p['tokens']:,}", f"{p['groups']:,}", f"{p['vocab']:,}",
                 *(f"{p['laps'].get(name, 0):.2f}" for name in PREPARE_LAPS), f"{p['seconds']:.1f}", f"{p['peak_mb']:,.0f}",
                 f"{c['seconds']:.2f}", f"{c['peak_mb']:,.0f}", f"{t['seconds_per_million_tokens']:.1f}", f"{t['peak_mb']:,.0f}",
                 f"{e['windows']:,}", f"{e['seconds_per_million_windows']:,.0f}", f"{e['all_seconds']:,.1f}", f"{e['peak_mb']:,.0f}",
                 f"{k['fit_seconds']:.1f}", f"{k['test_seconds']:.1f}", f"{k['test_ce']:.4f}", f"{k['peak_mb']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Log-log slope of time against tokens between {low:,} and {high:,} abstracts (target <= {SLOPE_TARGET}):", ""]
    for name, value in MEASURES.items():
        measured = slope(rows, value, low, high)
        verdict = "" if measured is None else (" (met)" if measured <= SLOPE_TARGET else " (NOT met)")
        lines.append(f"- {name}: {measured}{verdict}")
    lines += evaluation_lines(rows)
    lines += processor_time(rows, probes, low, high)
    big = next((r for r in rows if r["size"] == high), None)
    if big:
        lines += ["", f"Targets at {high:,} abstracts:", ""]
        checks = [("prepare from scratch", big["prepare"]["seconds"], TARGETS["prepare_seconds"], "s"),
                  ("prepare from the cache", big["cached"]["seconds"], TARGETS["cached_seconds"], "s"),
                  ("peak memory preparing", big["prepare"]["peak_mb"], TARGETS["prepare_mb"], "MB"),
                  ("peak memory training", big["train"]["peak_mb"], TARGETS["train_mb"], "MB"),
                  ("peak memory evaluating", big["evaluate"]["peak_mb"], TARGETS["train_mb"], "MB"),
                  ("peak memory Kneser-Ney 5", big["kn"]["peak_mb"], TARGETS["kn_mb"], "MB")]
        lines += [f"- {name}: {value:,.1f} {unit} (target <= {target:,} {unit}: {'met' if value <= target else 'NOT met'})"
                  for name, value, target, unit in checks]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    tokens = [r["prepare"]["tokens"] for r in rows]
    for name, value in MEASURES.items():
        ax.plot(tokens, [max(value(r), 1e-3) for r in rows], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tokens in the corpus")
    ax.set_ylabel("seconds")
    ax.set_title("patentgen: time per stage against corpus size")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(default_data()), help="the real patents file (default: %(default)s)")
    p.add_argument("--sizes", default="3522,10000,30000,100000", help="abstracts per corpus (default: %(default)s)")
    p.add_argument("--work", default="/tmp/patentgen-scale", help="where corpora and caches are built (default: %(default)s)")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results go (default: bench/)")
    p.add_argument("--train-batches", type=int, default=150, help="timed training batches per size (default: %(default)s)")
    p.add_argument("--window", type=int, default=TrainConfig.window, help="words of context per window (default: %(default)s)")
    p.add_argument("--eval-windows", type=int, default=30000,
                   help="windows of each held-out split the evaluate stage times (default: %(default)s)")
    p.add_argument("--probes", default="100,1000",
                   help="megabytes of fresh memory the memory probe writes, each in a new process (default: %(default)s)")
    p.add_argument("--stage", choices=(*STAGES, "touch"), help=argparse.SUPPRESS)  # one stage, in this process (used by the bench itself)
    p.add_argument("--probe-mb", type=int, default=0, help=argparse.SUPPRESS)  # the touch stage's size
    p.add_argument("--probe-pages", choices=PROBE_PAGES, default="numpy", help=argparse.SUPPRESS)  # and its huge page advice
    args = p.parse_args(argv)
    cfg = TrainConfig(data=args.data, window=args.window)
    if args.stage:
        run = {"prepare": stage_prepare, "cached": stage_prepare, "kn": stage_kn,
               "train": lambda cfg: stage_train(cfg, args.train_batches),
               "evaluate": lambda cfg: stage_evaluate(cfg, args.eval_windows),
               "touch": lambda cfg: stage_touch(args.probe_mb, args.probe_pages)}[args.stage]
        print(json.dumps(run(cfg)))
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    files, real = build_corpora(args.data, sizes, work)
    rows = []
    for size in sizes:
        cache = work / f"cache-{size}"
        if cache.exists():
            import shutil

            shutil.rmtree(cache)
        row = {"size": size, "synthetic": max(size - real, 0), "file": str(files[size])}
        for stage in STAGES:
            row[stage] = run_stage(stage, files[size], cache, args.train_batches, args.window, eval_windows=args.eval_windows)
            print(f"{size:>7,} abstracts  {stage:8s} {json.dumps(row[stage])}", flush=True)
        rows.append(row)
    sizes_mb = [int(mb) for mb in args.probes.split(",") if mb]
    probes = [run_stage("touch", files[sizes[0]], work, 0, args.window, mb, pages)
              for _ in range(PROBE_ROUNDS) for mb in sizes_mb for pages in PROBE_PAGES]
    for probe in probes:
        print(f"memory probe {json.dumps(probe)}", flush=True)
    out = Path(args.out)
    low, high = (10000, max(sizes)) if 10000 in sizes else (sizes[0], sizes[-1])
    command = "python -m bench.scale " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / "scale.json").write_text(json.dumps({"rows": rows, "memory_probe": probes}, indent=2) + "\n")
    (out / "SCALE.md").write_text(markdown(rows, command, low, high, probes))
    plot(rows, out / "scale.png")
    print(f"wrote {out / 'SCALE.md'}, {out / 'scale.json'}, {out / 'scale.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
