"""The leaderboard: every model a user could pick, on one split, one vocabulary, one machine.

    python -m bench --data ../shared/data/patents/neural_network_patent_query.csv [--budget-minutes 45]
    python -m bench --quick --data tests_fixture.csv --out /tmp/bench     # seconds, a smoke test

Rows: unigram, kn-3, kn-4, kn-5 (interpolated Kneser-Ney), mkn-3, mkn-4, mkn-5 (modified
Kneser-Ney), numpy-rnn, classic (the published architecture, same wall-clock budget as ours),
classic-windows-split (the published leaky 70/30 protocol, to set beside its 4.72), default
(``train.py --embeddings glove``), the variant default-learned and gru (``--arch gru``). Every row but
classic-windows-split and ``mkn-5 (min count 1)`` shares the grouped split and the tokenizer
fitted on its training side. Every row runs in a subprocess of its own (count rows through
``bench.count_row``, neural rows through ``train.py``), so time and peak memory are its alone.
Writes results.json, RESULTS.md and a plot of validation cross-entropy against training seconds.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from patentgen import generation, models, pipeline, runs, sampling
from patentgen.config import ROOT, TrainConfig, default_data

FIELDS = ("name", "vocab", "test_ce", "test_open_ce", "net_ce", "test_ppl", "test_acc", "test_top5", "unk_share",
          "train_seconds", "tokens_per_second", "peak_rss_mb", "gen_ms_per_word")
GEN_SEED = "a neural network comprising"

COUNT = ["unigram", "kn-3", "kn-4", "kn-5", "mkn-3", "mkn-4", "mkn-5"]
# Neural rows: (name, train.py flags, share of --budget-minutes for training, cap in minutes).
NEURAL = [
    ("default", [], 0.3, 15.0),
    ("classic", ["--arch", "classic"], 0.3, 15.0),
    ("default-learned", ["--embeddings", "learned"], 0.15, 15.0),
    ("gru", ["--arch", "gru"], 0.15, 15.0),
    ("numpy-rnn", ["--arch", "numpy-rnn"], 0.06, 15.0),
    ("classic-windows-split", ["--arch", "classic", "--split", "windows"], 0.06, 15.0),
]
OWN_VOCAB = "mkn-5 (min count 1)"
QUICK_FLAGS = ["--window", "10", "--epochs", "1", "--batch-size", "16"]


def quick_flags(flags: list[str]) -> list[str]:
    """--quick's tiny settings for a row: tiny units where its architecture reads --units."""
    arch = models.get(flags[flags.index("--arch") + 1] if "--arch" in flags else TrainConfig.arch)
    return QUICK_FLAGS + (["--units", "8"] if "units" in arch.uses else [])


def row(name, metrics: dict | None = None, **extra) -> dict:
    """A leaderboard row from a side's metrics: the model as used (the network with its caches
    where the run has them), and the network alone as ``net_ce``."""
    metrics = metrics or {}
    full = metrics.get("cached") or metrics.get("full_context", {})
    out = {
        "name": name, "vocab": None, "test_ce": full.get("ce"), "test_open_ce": full.get("open_ce"),
        "net_ce": metrics["full_context"]["ce"] if "cached" in metrics else None, "test_ppl": full.get("ppl"),
        "test_acc": full.get("acc"), "test_top5": full.get("top5"), "unk_share": full.get("unk_share"), "train_seconds": None,
        "tokens_per_second": None, "peak_rss_mb": None, "gen_ms_per_word": None,
    }
    out.update(extra)
    return out


def count_row(name: str, data: str, window: int, min_count: int, label: str | None = None) -> dict:
    """A count model's row, fitted and scored in a process of its own (``bench.count_row``)."""
    cmd = [sys.executable, "-m", "bench.count_row", "--data", str(data), "--model", name, "--window", str(window),
           "--min-count", str(min_count)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {name} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    result = row(label or name, {"full_context": found["metrics"]}, vocab=found["vocab"], train_seconds=found["train_seconds"],
                 tokens_per_second=found["tokens_per_second"], peak_rss_mb=found["peak_rss_mb"])
    print(f"{label or name:22s} test CE {result['test_ce']:.4f}  ({found['train_seconds']} s)", flush=True)
    return result


def gen_ms_per_word(run_dir: Path, words: int = 300) -> float:
    run = runs.load_inference(run_dir)
    rng, sampler = np.random.default_rng(0), sampling.from_description(sampling.DEFAULT)
    start = time.perf_counter()
    generation.continue_text(run, GEN_SEED, words, rng, sampler)
    return round((time.perf_counter() - start) * 1000 / words, 3)


def neural_row(name, flags, minutes, data, workdir: Path, quick: bool) -> tuple[dict, list[dict]]:
    out = workdir / name
    cmd = [sys.executable, str(ROOT / "train.py"), "--data", str(data), "--out", str(out), "--overwrite", "--quiet",
           "--max-minutes", f"{minutes:.3f}", *flags, *(quick_flags(flags) if quick else [])]
    print(f"{name:22s} training for at most {minutes:.1f} min: {' '.join(cmd[2:])}", flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: training {name} failed:\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    vocab = json.loads((out / "config.json").read_text())["vocab_size"]
    result = row(name, metrics["test"], vocab=vocab, train_seconds=metrics["train_seconds"],
                 tokens_per_second=metrics["tokens_per_second"], peak_rss_mb=metrics["peak_rss_mb"],
                 gen_ms_per_word=gen_ms_per_word(out))
    print(f"{name:22s} test CE {result['test_ce']:.4f} after {metrics['epochs']} epochs, {metrics['train_seconds']} s",
          flush=True)
    curve = [{"seconds": r["seconds"], "val_loss": r["val_loss"]} for r in metrics["history"]]
    return result, curve


def time_to_reach(curve: list[dict], target: float) -> float | None:
    return next((p["seconds"] for p in curve if p["val_loss"] <= target), None)


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name, curve in curves.items():
        ax.plot([p["seconds"] for p in curve], [p["val_loss"] for p in curve], marker="o", ms=3, label=name)
    ax.set_xlabel("training wall-clock seconds (2 CPU cores)")
    ax.set_ylabel("validation cross-entropy (nats, each model's training objective)")
    ax.set_title("patentgen: validation cross-entropy against time")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(rows, checks, command, vocab_size, unk_rule) -> str:
    def cell(v):
        return "" if v is None else (f"{v:.4f}" if isinstance(v, float) and abs(v) < 10 else str(v))

    lines = [
        "# Leaderboard", "",
        f"Measured {datetime.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.platform()}), Python {platform.python_version()}.", "",
        f"Command: `{command}`", "",
        f"Vocabulary rule (every row but classic-windows-split and `{OWN_VOCAB}`): {unk_rule}; {vocab_size} ids. Split: near-duplicate "
        "groups (documents sharing more than half of their word 8-grams) sent whole to train/val/test 80/10/10, "
        "split seed 0. Test figures: every test target with a full 50-word context of its own document.", "",
        "`test_open_ce` is the open-vocabulary cross-entropy: each `<unk>` target scored as P(<unk>) times the "
        "probability of its real spelling (a repeated context word, a rare training word by count, or a never-seen word "
        "through a character-level model; `patentgen/openvocab.py`). It compares models with different vocabularies, "
        f"such as `{OWN_VOCAB}`, whose `test_ce` is over its own, larger vocabulary.", "",
        "Neural rows are the model as `train.py` saves and uses it: the network mixed with a word cache and a phrase cache "
        "over the same 50-word context (`patentgen/cache.py`, weights fitted on the validation split); `net_ce` is the "
        "network alone. `mkn-N` is modified Kneser-Ney (three discounts per order), `kn-N` interpolated Kneser-Ney "
        "(one). `gen_ms_per_word`: 300 words from the default sampler, state carried, caches included. Every row ran "
        "in a process of its own; `peak_rss_mb` is that process's peak resident memory (VmHWM).", "",
        "| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS),
    ]
    lines += ["| " + " | ".join(cell(r[f]) for f in FIELDS) + " |" for r in rows]
    lines += ["", "## Targets", ""] + [f"- {c}" for c in checks]
    lines += ["", "![validation cross-entropy against time](val_ce_vs_time.png)", ""]
    return "\n".join(lines)


def checks_for(rows: dict, curves: dict) -> list[str]:
    out = []
    for peer, target in (("kn-5", 0.40), ("mkn-5", 0.60)):
        if "default" in rows and peer in rows:
            d, k = rows["default"], rows[peer]
            gap = k["test_ce"] - d["test_ce"]
            out.append(f"default {d['test_ce']:.4f} nats vs {peer} {k['test_ce']:.4f}: {gap:.3f} below (target >= {target:.2f}: "
                       f"{'met' if gap >= target else 'NOT met'}); perplexity {100 * (1 - d['test_ppl'] / k['test_ppl']):.1f}% "
                       f"lower; trained {d['train_seconds']} s (target <= 900 s)")
    if "default" in rows:
        d = rows["default"]
        out.append(f"default <unk> share of test targets {100 * d['unk_share']:.2f}% (target <= 3.5%: "
                   f"{'met' if d['unk_share'] <= 0.035 else 'NOT met'}); peak memory {d['peak_rss_mb']} MB (target <= 1536: "
                   f"{'met' if d['peak_rss_mb'] <= 1536 else 'NOT met'}); generation {d['gen_ms_per_word']} ms per word "
                   f"(target <= 1: {'met' if d['gen_ms_per_word'] <= 1 else 'NOT met'})")
    if "default" in curves and "classic" in curves:
        best = min(p["val_loss"] for p in curves["classic"])
        classic_t = next(p["seconds"] for p in curves["classic"] if p["val_loss"] == best)
        reach = time_to_reach(curves["default"], best)
        verdict = "never" if reach is None else f"{reach} s = {reach / classic_t:.2f} of classic's {classic_t} s"
        out.append(f"default reaches classic's best validation CE {best:.4f} (classic: full-context objective; "
                   f"default: all-positions objective, which is harder, so this is conservative): {verdict} "
                   "(target <= 0.20)")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(default_data()), help="the patents CSV (default: %(default)s)")
    p.add_argument("--budget-minutes", type=float, default=45.0, help="total training time to share out (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="tiny models and 10-word windows: a smoke test in seconds")
    p.add_argument("--rows", help="comma-separated subset of rows to run")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results go (default: bench/)")
    p.add_argument("--keep-runs", help="keep the neural rows' run folders in this folder (default: a temporary one)")
    args = p.parse_args(argv)
    wanted = set(args.rows.split(",")) if args.rows else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(data=args.data, window=10 if args.quick else 50)
    prepared, _, _ = pipeline.prepare_corpus(cfg)
    print(f"data {args.data}: vocabulary {len(prepared.tokenizer)}, split {prepared.summary()}", flush=True)
    rows = [count_row(name, args.data, cfg.window, cfg.min_count) for name in COUNT if not wanted or name in wanted]
    if not wanted or OWN_VOCAB in wanted:  # modified Kneser-Ney with its own vocabulary: comparable by open-vocabulary CE only
        rows.append(count_row("mkn-5", args.data, cfg.window, 1, label=OWN_VOCAB))
    curves = {}
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp:
        tmp = args.keep_runs or tmp
        for name, flags, share, cap in NEURAL:
            if wanted and name not in wanted:
                continue
            minutes = min(cap, share * args.budget_minutes)
            result, curve = neural_row(name, flags, minutes, args.data, Path(tmp), args.quick)
            rows.append(result)
            curves[name] = curve
    by_name = {r["name"]: r for r in rows}
    checks = checks_for(by_name, curves)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    unk_rule = f"training words seen fewer than {cfg.min_count} times are <unk>"
    (out / "RESULTS.md").write_text(markdown(rows, checks, command, len(prepared.tokenizer), unk_rule))
    plot(curves, out / "val_ce_vs_time.png")
    for line in checks:
        print(line)
    print(f"wrote {out / 'results.json'}, {out / 'RESULTS.md'}, {out / 'val_ce_vs_time.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
