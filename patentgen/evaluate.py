"""Evaluation stage: next-word cross-entropy, perplexity, accuracy and top-5 of a model.

Owns the two measures every row of every table uses:

* ``full_context``: each target preceded by a full ``window`` of words of its own document
  (the published task); the model sees exactly those words.
* ``all_positions``: documents cut into the training chunks, every target with its in-chunk
  context of 1..window words (``lstm`` models only: ``classic`` predicts one word per window).

Both report the share of targets that are ``<unk>``. Run as
``python -m patentgen.evaluate --model DIR [--data FILE]``.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from . import cli
from .inference import NumpyLM, log_softmax
from .tokenizer import PAD_ID, UNK_ID
from .windows import Windows


class _Totals:
    def __init__(self):
        self.n = self.nll = self.correct = self.top5 = self.unk = 0.0

    def add(self, logits: np.ndarray, targets: np.ndarray) -> None:
        """logits (N, V), targets (N,) of real (non-pad) targets."""
        logp = log_softmax(logits.astype(np.float64))
        target_logp = logp[np.arange(len(targets)), targets]
        rank = (logp > target_logp[:, None]).sum(axis=1)  # words scored above the target
        self.n += len(targets)
        self.nll -= target_logp.sum()
        self.correct += (rank == 0).sum()
        self.top5 += (rank < 5).sum()
        self.unk += (targets == UNK_ID).sum()

    def result(self) -> dict:
        if not self.n:
            return {"targets": 0, "ce": None, "ppl": None, "acc": None, "top5": None, "unk_share": None}
        ce = float(self.nll / self.n)
        return {
            "targets": int(self.n),
            "ce": round(ce, 4),
            "ppl": round(math.exp(ce), 2),
            "acc": round(float(self.correct / self.n), 4),
            "top5": round(float(self.top5 / self.n), 4),
            "unk_share": round(float(self.unk / self.n), 4),
        }


def full_context(lm: NumpyLM, flat: np.ndarray, starts: np.ndarray, window: int, batch: int = 256) -> dict:
    """Metrics over windows ``flat[s : s + window]`` -> ``flat[s + window]``."""
    totals = _Totals()
    offsets = np.arange(window)
    for i in range(0, len(starts), batch):
        part = starts[i : i + batch]
        totals.add(lm.last_logits(flat[part[:, None] + offsets]), flat[part + window])
    return totals.result()


def all_positions(lm: NumpyLM, chunks: np.ndarray, batch: int = 8) -> dict:
    """Metrics over every real target of (n, window + 1) chunks."""
    totals = _Totals()
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        hidden, _ = lm.hidden(part[:, :-1])  # (B, T, units)
        targets = part[:, 1:]
        real = targets != PAD_ID
        totals.add(lm.logits(hidden[real]), targets[real])
    return totals.result()


def evaluate_windows(lm: NumpyLM, windows: Windows) -> dict:
    """Both measures over one side's windows."""
    result = {"full_context": full_context(lm, windows.flat, windows.starts, windows.window)}
    if lm.arch != "classic" and hasattr(lm, "hidden"):  # every-position models only
        result["all_positions"] = all_positions(lm, windows.chunks)
    return result


def _parse(argv):
    parser = cli.Parser(prog="python -m patentgen.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="run folder written by train.py")
    parser.add_argument("--data", help="score every document of this corpus file instead of the run's test split")
    parser.add_argument("--text-column", help="CSV column holding the text (default: the run's)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from . import runs

    args = _parse(argv)
    run = runs.load_inference(args.model)
    if args.data:
        docs = runs.encode_file(run, args.data, args.text_column)
    else:
        docs = runs.split_docs(run, "test", args.text_column)
    print(json.dumps(evaluate_windows(run.lm, Windows.from_docs(docs, run.config["window"])), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
