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

FIELDS = ("name", "vocab", "ce", "open_ce", "cached_ce", "cached_open_ce", "caches", "ppl", "acc", "top5", "unk_share",
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
PRETRAINED = "default-pretrained"  # with --pretrain: train.py --pretrain FILE, the same 15-minute budget in all
EXTRA_PEER = "mkn-5 (+ extra text)"  # ... and the n-gram peer given the same text (interpolated: better for it than concatenated)
QUICK_FLAGS = ["--window", "10", "--epochs", "1", "--batch-size", "16"]


def quick_flags(flags: list[str]) -> list[str]:
    """--quick's tiny settings for a row: tiny units where its architecture reads --units."""
    arch = models.get(flags[flags.index("--arch") + 1] if "--arch" in flags else TrainConfig.arch)
    return QUICK_FLAGS + (["--units", "8"] if "units" in arch.uses else [])


def row(name, metrics: dict | None = None, **extra) -> dict:
    """A leaderboard row from a side's metrics: the model alone (``ce``: the network, or the
    count model) and the same model with its word and phrase caches fitted on validation
    (``cached_ce``), side by side; ppl, acc and top-5 are the model alone's."""
    metrics = metrics or {}
    alone, cached = metrics.get("full_context", {}), metrics.get("cached", {})
    out = {
        "name": name, "vocab": None, "ce": alone.get("ce"), "open_ce": alone.get("open_ce"), "cached_ce": cached.get("ce"),
        "cached_open_ce": cached.get("open_ce"),
        "caches": f"phrase {cached['phrase']:g}, word {cached['word']:g}" if cached else None,
        "ppl": alone.get("ppl"), "acc": alone.get("acc"), "top5": alone.get("top5"), "unk_share": alone.get("unk_share"),
        "train_seconds": None, "tokens_per_second": None, "peak_rss_mb": None, "gen_ms_per_word": None,
    }
    out.update(extra)
    return out


def count_row(name: str, data: str, cfg: TrainConfig, min_count: int, label: str | None = None, extra: list[str] = ()) -> dict:
    """A count model's row, fitted and scored in a process of its own (``bench.count_row``)."""
    cmd = [sys.executable, "-m", "bench.count_row", "--data", str(data), "--model", name, "--window", str(cfg.window),
           "--min-count", str(min_count), "--split-seed", str(cfg.split_seed), *extra]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {name} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    result = row(label or name, found["metrics"], vocab=found["vocab"], train_seconds=found["train_seconds"],
                 tokens_per_second=found["tokens_per_second"], peak_rss_mb=found["peak_rss_mb"])
    print(f"{label or name:22s} test CE {result['ce']:.4f}, with caches {result['cached_ce']:.4f}  ({found['train_seconds']} s)", flush=True)
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
    print(f"{name:22s} test CE {result['ce']:.4f}, with caches {result['cached_ce']:.4f} after {metrics['epochs']} epochs, "
          f"{metrics['train_seconds']} s",
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


def markdown(rows, checks, command, vocab_size, unk_rule, split_seed) -> str:
    def cell(v):
        return "" if v is None else (f"{v:.4f}" if isinstance(v, float) and abs(v) < 10 else str(v))

    lines = [
        "# Leaderboard", "",
        f"Measured {datetime.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.platform()}), Python {platform.python_version()}.", "",
        f"Command: `{command}`", "",
        f"Vocabulary rule (every row but classic-windows-split and `{OWN_VOCAB}`): {unk_rule}; {vocab_size} ids. Split: near-duplicate "
        "groups (documents sharing more than half of their word 8-grams) sent whole to train/val/test 80/10/10, "
        f"split seed {split_seed}. Test figures: every test target with a full 50-word context of its own document.", "",
        "**Like for like.** Every row is scored twice on the same test targets: `ce`, the model alone (the network, or the "
        "count model), and `cached_ce`, the same model mixed with a word cache and a phrase cache over the same 50-word context "
        "(`patentgen/cache.py`; the two weights, in `caches`, fitted on the validation split by the same code for every row). "
        "Targets compare alone with alone and cached with cached. Nothing is fitted on the data a row reports: checkpoints, "
        "early stopping and cache weights use validation only. The neural rows are fresh runs of `train.py` by this command, "
        "not the shipped model (`models/default`, whose own figures are in its `metrics.json` and the README).", "",
        "`open_ce` is the open-vocabulary cross-entropy: each `<unk>` target scored as P(<unk>) times the "
        "probability of its real spelling (a repeated context word, a rare training word by count, or a never-seen word "
        "through a character-level model; `patentgen/openvocab.py`). It compares models with different vocabularies, "
        f"such as `{OWN_VOCAB}`, whose `ce` is over its own, larger vocabulary. `classic-windows-split` is the published "
        "leaky protocol (windows shuffled, then 60% train, 10% validation for checkpoints and caches, 30% test), comparable "
        "only with its own published 4.72.", "",
        "`mkn-N` is modified Kneser-Ney (three discounts per order), `kn-N` interpolated Kneser-Ney (one). `ppl`, `acc` "
        "and `top5` are the model alone's. `gen_ms_per_word`: 300 words from the default sampler, state carried, caches "
        "included. Every row ran in a process of its own; `peak_rss_mb` is that process's peak resident memory (VmHWM).", "",
        "| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS),
    ]
    lines += ["| " + " | ".join(cell(r[f]) for f in FIELDS) + " |" for r in rows]
    lines += ["", "## Targets", ""] + [f"- {c}" for c in checks]
    lines += ["", "![validation cross-entropy against time](val_ce_vs_time.png)", ""]
    return "\n".join(lines)


# Like-for-like margins the default must keep below each count peer: (peer, alone vs alone, cached vs cached).
MARGINS = (("kn-5", 0.40, 0.40), ("mkn-5", 0.55, 0.45))


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def margin_line(ours: dict, peer: dict, key: str, target: float) -> str:
    label = {"ce": "alone", "cached_ce": "with caches"}[key]
    gap = peer[key] - ours[key]
    return (f"{ours['name']} {label} {ours[key]:.4f} nats vs {peer['name']} {label} {peer[key]:.4f}: {gap:.3f} below "
            f"(target >= {target:.2f}: {verdict(gap >= target)})")


def checks_for(rows: dict, curves: dict) -> list[str]:
    """Every target of the leaderboard, each with its verdict: like-for-like margins (alone
    against alone, cached against cached), the default's budget, <unk> share, memory,
    generation speed, and its time to reach classic's best validation CE."""
    out = []
    d = rows.get("default")
    for peer, alone, cached in MARGINS:
        if d and peer in rows:
            out += [margin_line(d, rows[peer], "ce", alone), margin_line(d, rows[peer], "cached_ce", cached)]
    if PRETRAINED in rows and EXTRA_PEER in rows:  # the same extra text on both sides
        ours, peer = rows[PRETRAINED], rows[EXTRA_PEER]
        out += [margin_line(ours, peer, "ce", MARGINS[1][1]), margin_line(ours, peer, "cached_ce", MARGINS[1][2])]
    if d:
        out.append(f"default trained {d['train_seconds']} s (target <= 900 s: {verdict(d['train_seconds'] <= 900)}); "
                   f"<unk> share of test targets {100 * d['unk_share']:.2f}% (target <= 3.5%: {verdict(d['unk_share'] <= 0.035)}); "
                   f"peak memory {d['peak_rss_mb']} MB (target <= 1536: {verdict(d['peak_rss_mb'] <= 1536)}); generation "
                   f"{d['gen_ms_per_word']} ms per word (target <= 1: {verdict(d['gen_ms_per_word'] <= 1)})")
    if "default" in curves and "classic" in curves:
        best = min(p["val_loss"] for p in curves["classic"])
        classic_t = next(p["seconds"] for p in curves["classic"] if p["val_loss"] == best)
        reach = time_to_reach(curves["default"], best)
        share = None if reach is None else reach / classic_t
        found = "never" if reach is None else f"{reach} s = {share:.2f} of classic's {classic_t} s"
        out.append(f"default reaches classic's best validation CE {best:.4f} (classic: full-context objective; "
                   f"default: all-positions objective, which is harder, so this is conservative): {found} "
                   f"(target <= 0.20: {verdict(share is not None and share <= 0.20)})")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(default_data()), help="the patents CSV (default: %(default)s)")
    p.add_argument("--budget-minutes", type=float, default=45.0, help="total training time to share out (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="tiny models and 10-word windows: a smoke test in seconds")
    p.add_argument("--rows", help="comma-separated subset of rows to run")
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results go (default: bench/)")
    p.add_argument("--keep-runs", help="keep the neural rows' run folders in this folder (default: a temporary one)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the grouped split, for every row (default: %(default)s)")
    p.add_argument("--pretrain", metavar="FILE", help=f"extra text: adds the rows {PRETRAINED} (train.py --pretrain FILE) and "
                   f"{EXTRA_PEER} (mkn-5 given the same text, interpolated with the target's)")
    args = p.parse_args(argv)
    wanted = set(args.rows.split(",")) if args.rows else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(data=args.data, window=10 if args.quick else 50, split_seed=args.split_seed)
    prepared, _, _ = pipeline.prepare_corpus(cfg)
    print(f"data {args.data}: vocabulary {len(prepared.tokenizer)}, split {prepared.summary()}", flush=True)
    rows = [count_row(name, args.data, cfg, cfg.min_count) for name in COUNT if not wanted or name in wanted]
    if not wanted or OWN_VOCAB in wanted:  # modified Kneser-Ney with its own vocabulary: comparable by open-vocabulary CE only
        rows.append(count_row("mkn-5", args.data, cfg, 1, label=OWN_VOCAB))
    if args.pretrain and (not wanted or EXTRA_PEER in wanted):
        rows.append(count_row("mkn-5", args.data, cfg, cfg.min_count, EXTRA_PEER, ["--pretrain", args.pretrain, "--mix", "interpolate"]))
    neural = NEURAL + ([(PRETRAINED, ["--pretrain", args.pretrain], 0.3, 15.0)] if args.pretrain else [])
    curves = {}
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as tmp:
        tmp = args.keep_runs or tmp
        for name, flags, share, cap in neural:
            if wanted and name not in wanted:
                continue
            minutes = min(cap, share * args.budget_minutes)
            result, curve = neural_row(name, flags + ["--split-seed", str(args.split_seed)], minutes, args.data, Path(tmp), args.quick)
            rows.append(result)
            curves[name] = curve
    by_name = {r["name"]: r for r in rows}
    checks = checks_for(by_name, curves)
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    (out / "results.json").write_text(json.dumps({"rows": rows, "targets": checks}, indent=2) + "\n")
    unk_rule = f"training words seen fewer than {cfg.min_count} times are <unk>"
    (out / "RESULTS.md").write_text(markdown(rows, checks, command, len(prepared.tokenizer), unk_rule, args.split_seed))
    plot(curves, out / "val_ce_vs_time.png")
    for line in checks:
        print(line)
    print(f"wrote {out / 'results.json'}, {out / 'RESULTS.md'}, {out / 'val_ce_vs_time.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
