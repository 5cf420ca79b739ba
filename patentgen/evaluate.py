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
``patentgen-evaluate`` or ``evaluate.py --model DIR [--data FILE]``, is
``patentgen/commands/evaluate.py``.

How it runs at the speed of the machine (``bench/evaluation.py`` measures it):

* windows go through the network in blocks of ``BLOCK``, and through the numpy networks'
  ``window_logits``: the words that neighbouring windows share are embedded and projected once,
  and each LSTM/GRU step is one (B, units) x (units, gates) matmul with the gates updated in
  place; float32 throughout, as the weights are (the figures equal float64's to 4 decimals);
* blocks run on every core at once, each thread with a single-threaded BLAS (``threadpoolctl``):
  one BLAS call split over threads stalls when another process holds a core;
* a window's metrics need only its target's log-probability and rank: the log-sum-exp and one
  comparison per word, never a (B, V) float64 log-softmax; the caches change the network's
  distribution only at the few words their context holds (``cache.Held``), so the cached
  model's figures come from those and a count, without a mixed (B, V) distribution;
* ``evaluate_split`` with ``fit_caches`` fits the caches on the validation windows and scores
  that split with them from the same pass of the network (it keeps each window's top logits,
  all a rank under any cache weights needs), so validation text is run through once, not twice.

``reference_full_context`` is the plain, slow computation (float64 log-softmax of every window's
logits, ``CachedLM``'s mixed distribution); the tests pin the fast path to it.

``sample``: a random subset of each split's windows (and chunks), for a bounded evaluation time,
with a 95% interval for the cross-entropy the full evaluation would give (``ce_95``).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .cache import CachedLM, Caches, Features, Held, fit
from .inference import log_softmax, window_logits
from .tokenizer import PAD_ID, UNK_ID
from .windows import Windows

BLOCK = 256  # windows per block: large enough for BLAS, small enough for the caches of a core
CHUNK_BLOCK = 32  # every-position chunks per block (their logits are chunks x window x V)
Z_95 = 1.959964  # two-sided 95% normal quantile
Progress = Callable[[int, int], None]  # progress(done, total) after each block; units: windows (and chunks)


class Sums:
    """Running sums of one measure: negative log-likelihood (and its square, for a sample's
    interval), correct and top-5 predictions, ``<unk>`` targets, spelling log-probabilities."""

    def __init__(self):
        self.n = self.correct = self.top5 = self.unk = 0
        self.nll = self.nll_sq = self.spelling_nll = 0.0
        self.open = False

    def add(self, logp: np.ndarray, rank: np.ndarray, targets: np.ndarray, spelling: np.ndarray | None = None) -> None:
        """logp (N,) float64 of the targets, rank (N,) of words scored above each target."""
        nll = -np.asarray(logp, np.float64)
        self.n += len(nll)
        self.nll += float(nll.sum())
        self.nll_sq += float((nll * nll).sum())
        if spelling is not None:
            self.open = True
            self.spelling_nll -= float(np.sum(spelling))
        self.correct += int((rank == 0).sum())
        self.top5 += int((rank < 5).sum())
        self.unk += int((targets == UNK_ID).sum())

    def merge(self, other: "Sums") -> None:
        for name in ("n", "correct", "top5", "unk", "nll", "nll_sq", "spelling_nll"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.open = self.open or other.open

    def result(self, population: int | None = None) -> dict:
        """The measure; ``population``: how many targets the sample was drawn from (adds
        ``sample``: its size, the population and the 95% interval of the cross-entropy)."""
        if not self.n:
            return {"targets": 0, "ce": None, "ppl": None, "acc": None, "top5": None, "unk_share": None}
        ce = self.nll / self.n
        out = {
            "targets": self.n,
            "ce": round(ce, 4),
            "ppl": round(math.exp(ce), 2),
            "acc": round(self.correct / self.n, 4),
            "top5": round(self.top5 / self.n, 4),
            "unk_share": round(self.unk / self.n, 4),
        }
        if self.open:
            open_ce = (self.nll + self.spelling_nll) / self.n
            out.update({"open_ce": round(open_ce, 4), "open_ppl": round(math.exp(open_ce), 2)})
        if population is not None and population > self.n:
            out["sample"] = {"targets": self.n, "of": population, "ce_95": [round(x, 4) for x in self.interval(population)]}
        return out

    def interval(self, population: int) -> tuple[float, float]:
        """95% interval of the mean NLL over all ``population`` targets, from this simple random
        sample of them (without replacement: the finite-population correction applies)."""
        ce = self.nll / self.n
        variance = max(self.nll_sq - self.n * ce * ce, 0.0) / max(self.n - 1, 1)
        half = Z_95 * math.sqrt(variance / self.n * (1 - self.n / population))
        return ce - half, ce + half


# ----- the reference path ---------------------------------------------------------------------------
def _reference_scores(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logp, rank) of the targets from a float64 log-softmax of every row."""
    logp = log_softmax(np.asarray(logits, np.float64))
    target_logp = logp[np.arange(len(targets)), targets]
    return target_logp, (logp > target_logp[:, None]).sum(axis=1)


def reference_full_context(lm, flat: np.ndarray, starts: np.ndarray, window: int, spelling: np.ndarray | None = None,
                           caches: Caches | None = None, batch: int = 256) -> tuple[dict, dict | None]:
    """``full_context`` computed plainly: each window's logits from ``lm.last_logits``, a
    float64 log-softmax over the vocabulary, and with ``caches`` ``CachedLM``'s mixed
    distribution. Slow; the oracle of the fast path (and of ``bench.evaluation``'s speed-up)."""
    plain, cached = Sums(), Sums() if caches is not None else None
    offsets = np.arange(window)
    for i in range(0, len(starts), batch):
        part = starts[i : i + batch]
        contexts, targets = flat[part[:, None] + offsets], flat[part + window]
        logits = lm.last_logits(contexts)
        spelled = None if spelling is None else spelling[part + window]
        plain.add(*_reference_scores(logits, targets), targets, spelled)
        if cached is not None:
            cached.add(*_reference_scores(CachedLM(lm, caches).mix_logits(logits, contexts), targets), targets, spelled)
    return plain.result(), cached.result() if cached is not None else None


# ----- the fast path --------------------------------------------------------------------------------
@dataclass
class Scored:
    """One block of windows through the network: all that its figures need, under any caches."""

    targets: np.ndarray  # (B,)
    logp: np.ndarray  # (B,) float64: the network's log-probability of each target
    rank: np.ndarray  # (B,) words the network scores above the target
    lse: np.ndarray  # (B,) float64: log-sum-exp of each row of logits
    spelled: np.ndarray | None  # (B,) spelling log-probabilities of the targets, or None
    held: Held | None = None  # what the caches hold, where the caches are scored
    p_entries: np.ndarray | None = None  # (M,) float64: the network's probability of each held entry
    cached_rank: np.ndarray | None = None  # (B,) under fixed caches: words the mixture scores above the target
    top_ids: np.ndarray | None = None  # (B, K): each row's K highest logits, for caches fitted later
    top_logits: np.ndarray | None = None  # (B, K) float32


def _row_scores(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logp (B,) float64, rank (B,), lse (B,) float64) of the targets: the exponentials in the
    logits' own precision, summed in float64."""
    rows = np.arange(len(targets))
    target = logits[rows, targets]
    top = logits.max(axis=1)
    with np.errstate(under="ignore", invalid="ignore"):
        lse = top.astype(np.float64) + np.log(np.exp(logits - top[:, None]).sum(axis=1, dtype=np.float64))
    return target.astype(np.float64) - lse, (logits > target[:, None]).sum(axis=1), lse


def score_block(lm, windows: Windows, starts: np.ndarray, caches: Caches | None = None, keep_top: bool = False) -> Scored:
    """One block of full-context windows through the network; with ``caches`` (or ``keep_top``:
    caches to be fitted) what the caches hold after each window too."""
    flat, window = windows.flat, windows.window
    logits = window_logits(lm, flat, starts, window)  # (B, V)
    targets = flat[starts + window]
    logp, rank, lse = _row_scores(logits, targets)
    spelled = None if windows.spelling is None else windows.spelling[starts + window]
    scored = Scored(targets, logp, rank, lse, spelled)
    if caches is None and not keep_top:
        return scored
    held = Held.of(flat[starts[:, None] + np.arange(window)], targets)
    entry_logits = logits[held.rows, held.ids].astype(np.float64)
    scored.held, scored.p_entries = held, np.exp(entry_logits - lse[held.rows])
    if keep_top:  # enough of the top to hold every cached id, the target and 5 more
        k = min(logits.shape[1], window + 6)
        top = np.argpartition(logits, logits.shape[1] - k, axis=1)[:, -k:].copy()  # (B, K), not a view that keeps (B, V) alive
        scored.top_ids, scored.top_logits = top, np.take_along_axis(logits, top, axis=1)
    else:
        scored.cached_rank = _counted_above(logits, held, scored.p_entries, lse, caches)
    return scored


def _counted_above(logits, held: Held, p_entries, lse, caches: Caches) -> np.ndarray:
    """Per row, how many ids the mixture scores above the target: the ids the caches hold,
    compared exactly, plus the others, whose mixed probability is the network's scaled by
    (1 - a)(1 - b): above the target where their logit is above a cut. (B,)"""
    a, b = held.weights(caches)
    mixed = held.mixed(p_entries, caches)
    threshold = mixed[held.is_target]  # (B,) the mixture's probability of each target
    with np.errstate(divide="ignore"):
        cut = lse + np.log(threshold / ((1 - a) * (1 - b)))  # logit above which an unheld id beats the target
    n = len(threshold)
    above_all = (logits > cut[:, None]).sum(axis=1)  # compared in float64
    held_above = np.bincount(held.rows, logits[held.rows, held.ids] > cut[held.rows], n)
    held_mixed_above = np.bincount(held.rows, (mixed > threshold[held.rows]) & ~held.is_target, n)
    return (above_all - held_above + held_mixed_above).astype(np.int64)


def _cached_sums(scored: Scored, caches: Caches) -> Sums:
    """The cached model's sums over a block scored with fixed ``caches``."""
    held = scored.held
    logp = np.log(held.mixed(scored.p_entries, caches)[held.is_target])
    sums = Sums()
    sums.add(logp, scored.cached_rank, scored.targets, scored.spelled)
    return sums


def _ranks_from_top(scored: Scored, caches: Caches) -> tuple[np.ndarray, np.ndarray]:
    """(logp, rank capped at 5) of the targets under ``caches``, from a block's held entries and
    top logits: ids outside the held ones keep the network's order, so the top ``K`` of them
    decide whether fewer than 5 beat the target."""
    held = scored.held
    mixed = held.mixed(scored.p_entries, caches)
    threshold = mixed[held.is_target]
    n, k = scored.top_ids.shape
    held_mixed_above = np.bincount(held.rows, (mixed > threshold[held.rows]) & ~held.is_target, n)
    vocab = max(int(scored.top_ids.max(initial=0)), int(held.ids.max(initial=0))) + 1
    unheld = ~np.isin(np.arange(n)[:, None] * vocab + scored.top_ids, held.rows * vocab + held.ids)  # (B, K)
    a, b = held.weights(caches)
    p_top = np.exp(scored.top_logits.astype(np.float64) - scored.lse[:, None])
    scaled = (1 - a)[:, None] * ((1 - b)[:, None] * p_top)  # the mixture at unheld ids
    unheld_above = ((scaled > threshold[:, None]) & unheld).sum(axis=1)
    return np.log(threshold), np.minimum(held_mixed_above + unheld_above, 5)


def _blocks(starts: np.ndarray, size: int) -> list[np.ndarray]:
    return [starts[i : i + size] for i in range(0, len(starts), size)]


def workers() -> int:
    """Threads for the blocks: the cores this process may use."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, 16))


def _map(function, items: list, progress: Callable[[int], None] | None, threads: int | None):
    """``function`` over ``items`` on ``threads`` threads, BLAS single-threaded in each, results
    in order; ``progress(len(item))`` as each finishes, in order."""
    from threadpoolctl import threadpool_limits

    threads = threads or workers()
    with threadpool_limits(limits=1, user_api="blas"):
        if threads == 1:
            for item in items:
                result = function(item)
                if progress:
                    progress(len(item))
                yield result
            return
        pool = ThreadPoolExecutor(threads)
        try:  # at most two blocks a thread in flight: bounded memory, and Ctrl-C waits for those only
            pending, queue = deque(), iter(items)
            for item in itertools.islice(queue, 2 * threads):
                pending.append((item, pool.submit(function, item)))
            while pending:
                item, future = pending.popleft()
                result = future.result()
                for more in itertools.islice(queue, 1):
                    pending.append((more, pool.submit(function, more)))
                if progress:
                    progress(len(item))
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def sample_rows(n: int, size: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of a simple random sample of ``size`` of ``n`` rows; None for all."""
    if size is None or size >= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


@dataclass
class SplitResult:
    """The figures of one split and, where the caches were fitted on it, the fit."""

    metrics: dict
    caches: Caches | None = None
    loglik_with: float | None = None
    loglik_without: float | None = None


def evaluate_split(lm, windows: Windows, caches: Caches | None = None, fit_caches: bool = False,
                   sample: int | None = None, seed: int = 0, progress: Progress | None = None,
                   threads: int | None = None) -> SplitResult:
    """Both measures over one split's windows (``sample``: a random ``sample`` of its windows,
    and the same share of its chunks), and the network with its caches (``"cached"``): the
    given ``caches``, or with ``fit_caches`` caches fitted here on these windows by maximum
    likelihood (``cache.fit``) from the same pass of the network. ``progress(done, total)``
    after each block; items are windows and chunks (each about one window of work)."""
    every_position = getattr(lm, "every_position", False)  # recurrent models that predict every position
    picked = sample_rows(len(windows.starts), sample, seed)
    starts = windows.starts if picked is None else windows.starts[picked]
    chunks = windows.chunks if every_position else windows.chunks[:0]
    chunk_picked = None if picked is None else sample_rows(len(chunks), -(-len(chunks) * len(starts) // len(windows.starts)), seed + 1)
    chunks = chunks if chunk_picked is None else chunks[chunk_picked]
    total, done = len(starts) + len(chunks), 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    population = len(windows.starts) if picked is not None else None
    plain, cached, kept = Sums(), Sums(), []
    score = (lambda part: score_block(lm, windows, part, caches if not fit_caches else None, keep_top=fit_caches))
    for scored in _map(score, _blocks(starts, BLOCK), step, threads):
        plain.add(scored.logp, scored.rank, scored.targets, scored.spelled)
        if fit_caches:
            kept.append(scored)
        elif caches is not None:
            cached.merge(_cached_sums(scored, caches))
    result = SplitResult({"full_context": plain.result(population)})
    if every_position:
        result.metrics["all_positions"] = _all_positions(lm, chunks, step, threads).result()
        if chunk_picked is not None:  # a sample of whole chunks: no interval (its targets are not drawn one by one)
            result.metrics["all_positions"]["sample"] = {"chunks": len(chunks), "of": len(windows.chunks)}
    if fit_caches:
        found = Features.concat([scored.held.features(scored.p_entries) for scored in kept])
        caches, result.loglik_with, result.loglik_without = fit(found)
        for scored in kept:
            cached.add(*_ranks_from_top(scored, caches), scored.targets, scored.spelled)
    if caches is not None:
        result.metrics["cached"] = {**cached.result(population), **caches.to_json()}
        result.caches = caches
    return result


def _all_positions(lm, chunks: np.ndarray, progress: Callable[[int], None] | None, threads: int | None) -> Sums:
    """Sums over every real target of (n, window + 1) chunks."""
    def score(part):
        inputs, targets = part[:, :-1], part[:, 1:]
        if hasattr(lm, "window_hidden"):
            width = inputs.shape[1]
            hidden = lm.window_hidden(inputs.ravel(), np.arange(len(part)) * width, width, sequences=True)
        else:
            hidden, _ = lm.hidden(inputs)  # (B, T, units)
        real = targets != PAD_ID
        sums = Sums()
        sums.add(*_row_scores(lm.logits(hidden[real]), targets[real])[:2], targets[real])
        return sums

    total = Sums()
    for sums in _map(score, _blocks(chunks, CHUNK_BLOCK), progress, threads):
        total.merge(sums)
    return total


def full_context(lm, flat: np.ndarray, starts: np.ndarray, window: int, spelling: np.ndarray | None = None,
                 on_batch: Callable[[int], None] | None = None) -> dict:
    """Metrics over windows ``flat[s : s + window]`` -> ``flat[s + window]``; with ``spelling``
    (aligned with ``flat``) also the open-vocabulary cross-entropy."""
    sums = Sums()
    windows = Windows(flat, starts, np.zeros((0, window + 1), np.int32), window, spelling)
    for scored in _map(lambda part: score_block(lm, windows, part), _blocks(starts, BLOCK), on_batch, None):
        sums.add(scored.logp, scored.rank, scored.targets, scored.spelled)
    return sums.result()


def evaluate_windows(lm, windows: Windows, progress: Progress | None = None, caches: Caches | None = None,
                     sample: int | None = None, seed: int = 0) -> dict:
    """``evaluate_split``'s figures with fixed (or no) caches."""
    return evaluate_split(lm, windows, caches, sample=sample, seed=seed, progress=progress).metrics


SIDE_ORDER = ("val", "test")  # validation first: the caches are fitted on it


def evaluate_run(lm, sides: dict[str, Windows], caches: Caches | None = None, fit_caches: bool = False,
                 sample: int | None = None, seed: int = 0, progress: Callable[[str], Progress | None] | None = None) -> dict:
    """Every split of ``sides`` ("val", "test"), validation first; with ``fit_caches`` the
    caches are fitted on the validation windows (in its one pass) and used for the others.
    ``progress(side)`` gives each split's progress callback. Returns {side: metrics, ...,
    "caches": the weights and the validation log-likelihood per word without and with them}."""
    out = {}
    for side in sorted(sides, key=lambda s: SIDE_ORDER.index(s) if s in SIDE_ORDER else len(SIDE_ORDER)):
        fitting = fit_caches and side == "val"
        found = evaluate_split(lm, sides[side], caches, fitting, sample, seed, progress(side) if progress else None)
        out[side] = found.metrics
        if fitting:
            caches = found.caches
            out["caches"] = {**caches.to_json(), "val_loglik_without": round(found.loglik_without, 4),
                             "val_loglik_with": round(found.loglik_with, 4)}
    return out


def estimate_seconds(lm, sides: dict[str, Windows], fit_caches: bool = True, sample: int | None = None) -> float:
    """How long ``evaluate_run`` of ``sides`` will take: a block of windows per thread of the
    first split (and of chunks) timed through the same path on as many threads as the run uses,
    after a small untimed block (first calls, BLAS limits), and extrapolated (``extrapolate``)."""
    first, threads = sides[next(iter(sides))], workers()
    starts = first.starts[: BLOCK * threads]
    if not len(starts):
        return 0.0

    def score(part):
        return score_block(lm, first, part, keep_top=fit_caches)

    for _ in _map(score, [starts[:8]], None, 1):
        pass
    began = time.perf_counter()
    for _ in _map(score, _blocks(starts, BLOCK), None, threads):
        pass
    per_window, per_chunk = (time.perf_counter() - began) / len(starts), 0.0
    if getattr(lm, "every_position", False) and len(first.chunks):
        part = first.chunks[: CHUNK_BLOCK * threads]
        began = time.perf_counter()
        _all_positions(lm, part, None, threads)
        per_chunk = (time.perf_counter() - began) / len(part)
    return extrapolate(per_window, per_chunk, sides, sample)


def extrapolate(per_window: float, per_chunk: float, sides: dict[str, Windows], sample: int | None = None) -> float:
    """Seconds for every split of ``sides`` (or a ``sample`` of each: that many windows and the
    same share of its chunks) at these costs per window and per chunk."""
    seconds = 0.0
    for found in sides.values():
        share = 1.0 if sample is None else min(1.0, sample / max(len(found.starts), 1))
        seconds += per_window * len(found.starts) * share + per_chunk * len(found.chunks) * share
    return seconds
