"""Print a run's next-word metrics as JSON: on its test split, or on every document of a corpus file.

    .venv/bin/python -m patentgen.evaluate --model models/default
    patentgen-evaluate --model models/mine --data other.csv

The command behind ``python -m patentgen.evaluate`` and ``patentgen-evaluate``; the measures
themselves are ``patentgen/evaluate.py``'s.
"""

from __future__ import annotations

import json

from patentgen import cli, deps


def _parse(argv):
    parser = cli.Parser(prog=cli.prog("python -m patentgen.evaluate"), description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="run folder written by train.py")
    parser.add_argument("--data", help="score every document of this corpus file instead of the run's test split")
    parser.add_argument("--text-column", help="CSV column holding the text (default: the run's)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    deps.require("numpy")
    from patentgen import runs
    from patentgen.evaluate import evaluate_windows

    run = runs.load_inference(args.model)
    if args.data:
        tokens = runs.file_tokens(run, args.data, args.text_column)
    else:
        tokens = runs.split_tokens(run, "test", args.text_column)
    print(json.dumps(evaluate_windows(run.lm, runs.token_windows(run, tokens), caches=run.caches), indent=2))
    return 0


def entry() -> int:
    """The ``patentgen-evaluate`` command."""
    return cli.run(main)
