"""Evaluation stage: next-word cross-entropy, perplexity, accuracy and top-5 of a model.

Owns the two measures every row of every table uses:

* ``full_context``: each target preceded by a full ``window`` of words of its own document
  (the published task); the model sees exactly those words.
* ``all_positions``: documents cut into the training chunks, every target with its in-chunk
  context of 1..window words (``lstm`` models only: ``classic`` predicts one word per window).

Both report the share of targets that are ``<unk>``. ``full_context`` also reports the
*open-vocabulary* cross-entropy where the run has an open vocabulary: each ``<unk>`` target is
scored as P(<unk>) times the probability of its real spelling (``patentgen.openvocab``), so
models with different vocabularies can be compared. The command that prints them for a run,
``patentgen-evaluate`` or ``python -m patentgen.evaluate --model DIR [--data FILE]``, is
``patentgen/commands/evaluate.py``.
"""

from __future__ import annotations

import math
import sys
from typing import Callable

if __name__ == "__main__":  # the command; before numpy is imported, so a bare Python is told what it lacks in one line
    from patentgen.commands.evaluate import entry

    sys.exit(entry())

import numpy as np

from .cache import CachedLM, Caches
from .inference import NumpyLM, log_softmax
from .tokenizer import PAD_ID, UNK_ID
from .windows import Windows


class _Totals:
    def __init__(self):
        self.n = self.nll = self.correct = self.top5 = self.unk = self.spelling_nll = 0.0
        self.open = False

    def add(self, logits: np.ndarray, targets: np.ndarray, spelling: np.ndarray | None = None) -> None:
        """logits (N, V), targets (N,) of real (non-pad) targets, their spelling log-probabilities (N,)."""
        logp = log_softmax(logits.astype(np.float64))
        target_logp = logp[np.arange(len(targets)), targets]
        rank = (logp > target_logp[:, None]).sum(axis=1)  # words scored above the target
        self.n += len(targets)
        self.nll -= target_logp.sum()
        if spelling is not None:
            self.open = True
            self.spelling_nll -= spelling.sum()
        self.correct += (rank == 0).sum()
        self.top5 += (rank < 5).sum()
        self.unk += (targets == UNK_ID).sum()

    def result(self) -> dict:
        if not self.n:
            return {"targets": 0, "ce": None, "ppl": None, "acc": None, "top5": None, "unk_share": None}
        ce = float(self.nll / self.n)
        out = {
            "targets": int(self.n),
            "ce": round(ce, 4),
            "ppl": round(math.exp(ce), 2),
            "acc": round(float(self.correct / self.n), 4),
            "top5": round(float(self.top5 / self.n), 4),
            "unk_share": round(float(self.unk / self.n), 4),
        }
        if self.open:
            open_ce = float((self.nll + self.spelling_nll) / self.n)
            out.update({"open_ce": round(open_ce, 4), "open_ppl": round(math.exp(open_ce), 2)})
        return out


Progress = Callable[[int], None]  # called after each batch with the number of items it held


def full_context(lm: NumpyLM, flat: np.ndarray, starts: np.ndarray, window: int, batch: int = 256,
                 spelling: np.ndarray | None = None, on_batch: Progress | None = None) -> dict:
    """Metrics over windows ``flat[s : s + window]`` -> ``flat[s + window]``; with ``spelling``
    (aligned with ``flat``) also the open-vocabulary cross-entropy."""
    return _full_context(lm, flat, starts, window, batch, spelling, on_batch)[0].result()


def _full_context(lm, flat, starts, window, batch, spelling, on_batch, caches: Caches | None = None):
    """The totals of ``full_context``, and with ``caches`` those of the network with its caches,
    from one pass of the network."""
    totals, cached = _Totals(), _Totals() if caches is not None else None
    offsets = np.arange(window)
    for i in range(0, len(starts), batch):
        part = starts[i : i + batch]
        contexts, targets = flat[part[:, None] + offsets], flat[part + window]
        logits = lm.last_logits(contexts)
        spelled = None if spelling is None else spelling[part + window]
        totals.add(logits, targets, spelled)
        if cached is not None:
            cached.add(CachedLM(lm, caches).mix_logits(logits, contexts), targets, spelled)
        if on_batch:
            on_batch(len(part))
    return totals, cached


def all_positions(lm: NumpyLM, chunks: np.ndarray, batch: int = 8, on_batch: Progress | None = None) -> dict:
    """Metrics over every real target of (n, window + 1) chunks."""
    totals = _Totals()
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        hidden, _ = lm.hidden(part[:, :-1])  # (B, T, units)
        targets = part[:, 1:]
        real = targets != PAD_ID
        totals.add(lm.logits(hidden[real]), targets[real])
        if on_batch:
            on_batch(len(part))
    return totals.result()


def evaluate_windows(lm: NumpyLM, windows: Windows, progress: Callable[[int, int], None] | None = None,
                     caches: Caches | None = None) -> dict:
    """Both measures over one side's windows, and with ``caches`` the full-context measure of the
    network with its caches (``"cached"``); ``progress(done, total)`` after each batch (items:
    full-context windows, then chunks, each about one window of work)."""
    every_position = getattr(lm, "every_position", False)  # recurrent models that predict every position
    total = len(windows.starts) + (len(windows.chunks) if every_position else 0)
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    plain, cached = _full_context(lm, windows.flat, windows.starts, windows.window, 256, windows.spelling, step, caches)
    result = {"full_context": plain.result()}
    if every_position:
        result["all_positions"] = all_positions(lm, windows.chunks, on_batch=step)
    if cached is not None:
        result["cached"] = {**cached.result(), **caches.to_json()}
    return result
