"""Print a run's next-word metrics: on its test (or validation) split, or on every document of a corpus file.

    .venv/bin/python evaluate.py --model models/default                    # a table of the test split
    patentgen-evaluate --model models/mine --split val --json                # the figures as JSON
    patentgen-evaluate --model models/mine --data other.csv --sample 20000   # a sample, with a 95% interval
    patentgen-evaluate --model models/mine --save                            # after train.py --no-eval

The command behind ``evaluate.py`` and ``patentgen-evaluate``; the measures
themselves are ``patentgen/evaluate.py``'s. Progress goes to stderr, so stdout is only the table
or the JSON.
"""

from __future__ import annotations

import json
import sys

from patentgen import cli, deps
from patentgen.progress import Progress

MEASURES = (("full_context", "full context"), ("cached", "with its caches"), ("all_positions", "all positions"))


def _parse(argv):
    parser = cli.Parser(prog=cli.prog("evaluate.py"), description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="run folder written by train.py")
    parser.add_argument("--split", choices=("val", "test"), help="the held-out split of the run to score (default: test)")
    parser.add_argument("--data", help="score every document of this corpus file instead of a split of the run")
    parser.add_argument("--text-column", help="CSV column holding the text (default: the run's)")
    parser.add_argument("--sample", type=cli.positive_int, metavar="N",
                        help="score a random sample of N windows (and the same share of chunks), with a 95%% interval on the cross-entropy")
    parser.add_argument("--seed", type=int, default=0, help="the sample's random seed (default: 0)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--save", action="store_true",
                        help="score both splits and store the figures in the run's metrics.json, fitting the caches on the "
                             "validation split first if the run has none (a run trained with --no-eval)")
    args = parser.parse_args(argv)
    if args.data and args.split:
        parser.error("--data scores a corpus file and --split a split of the run; give one of them")
    if args.save and (args.data or args.split or args.sample):
        parser.error("--save scores both splits of the run in full; drop --data, --split and --sample")
    return args


def _cell(value, kind: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if kind == "share" else f"{value:.4f}" if kind == "ce" else f"{value:.2f}"


def table(title: str, figures: dict) -> str:
    """One split's figures as a table: a row per measure, a line per sample interval."""
    columns = (("CE", "ce", "ce"), ("ppl", "ppl", "ppl"), ("acc", "acc", "share"), ("top-5", "top5", "share"),
               ("<unk>", "unk_share", "share"), ("open CE", "open_ce", "ce"))
    rows = [(name, figures[key]) for key, name in MEASURES if key in figures]
    lines = [title, f"{'':17s}" + "".join(f"{head:>9s}" for head, _, _ in columns)]
    for name, found in rows:
        lines.append(f"{name:17s}" + "".join(f"{_cell(found.get(key), kind):>9s}" for _, key, kind in columns))
    for name, found in rows:
        sample = found.get("sample")
        if sample and "ce_95" in sample:
            lines.append(f"{name}: a sample of {sample['targets']:,} of {sample['of']:,} windows; "
                         f"CE 95% interval {sample['ce_95'][0]:.4f} to {sample['ce_95'][1]:.4f}")
        elif sample:
            lines.append(f"{name}: a sample of {sample['chunks']:,} of {sample['of']:,} chunks")
    if "cached" in figures:
        lines.append(f"caches: phrase {figures['cached']['phrase']}, word {figures['cached']['word']}")
    return "\n".join(lines)


def _progress(label: str):
    return lambda side: Progress(f"evaluating {label(side)}", "windows and chunks", sys.stderr, ends_itself=True)


def main(argv=None) -> int:
    args = _parse(argv)
    deps.require("numpy", "threadpoolctl")
    from patentgen import runs
    from patentgen.evaluate import evaluate_run

    run = runs.load_inference(args.model)
    window = run.config["window"]
    if args.save:
        sides = {side: runs.split_windows(run, side, text_column=args.text_column) for side in ("val", "test")}
        name = {"val": "the validation split", "test": "the test split"}
        figures = evaluate_run(run.lm, sides, caches=run.caches, fit_caches=run.caches is None, progress=_progress(name.get))
        runs.record_evaluation(run, figures)
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            for side in ("val", "test"):
                print(table(f"{run.path}: {name[side]}, {len(sides[side].starts):,} windows of {window} words", figures[side]) + "\n")
            print(f"saved the figures in {run.path / 'metrics.json'}"
                  + ("; the caches fitted on the validation split in config.json" if "caches" in figures else ""))
        return 0
    if args.data:
        tokens = runs.file_tokens(run, args.data, args.text_column)
        what = f"every document of {args.data} ({len(tokens):,})"
    else:
        side = args.split or "test"
        tokens = runs.split_tokens(run, side, args.text_column)
        what = f"the {'validation' if side == 'val' else 'test'} split ({len(tokens):,} documents)"
    windows = runs.token_windows(run, tokens)
    figures = evaluate_run(run.lm, {"this": windows}, caches=run.caches, sample=args.sample, seed=args.seed,
                           progress=_progress(lambda _: what))["this"]
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(table(f"{run.path}: {what}, {len(windows.starts):,} windows of {window} words", figures))
    return 0


def entry() -> int:
    """The ``patentgen-evaluate`` command."""
    return cli.run(main)
