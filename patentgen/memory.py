"""Training memory: an estimate of what a model of given settings needs, checked against the
machine before the model is built, so that ``--units 100000000`` gets one line instead of
TensorFlow running out of memory.

Owns the estimate (the architecture's exact parameter count, ``models``, times the copies that
training keeps, plus one batch's activations) and the machine's memory (``/proc/meminfo``). The
estimate leaves out TensorFlow's own few hundred megabytes, so it is a floor: a run refused by it
cannot fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import UserError

FLOAT_BYTES = 4
# Copies of every parameter training keeps: weights, gradients and Adam's two moments (Keras
# architectures); weights, gradients and the best weights so far (the numpy RNN's SGD).
COPIES = {True: 4, False: 3}
GB = 1 << 30


@dataclass(frozen=True)
class Estimate:
    parameters: int
    bytes: int

    def describe(self) -> str:
        return f"{self.parameters:,} parameters, about {self.bytes / GB:,.1f} GB to train"


def estimate(cfg, vocab_size: int) -> Estimate:
    """The memory that training the model of ``cfg`` on ``vocab_size`` words needs at least."""
    from . import models

    spec = models.get(cfg.arch)
    parameters = spec.parameters(cfg, vocab_size)
    return Estimate(parameters, FLOAT_BYTES * (COPIES[spec.keras] * parameters + spec.batch_floats(cfg, vocab_size)))


def meminfo() -> dict[str, int]:
    """``/proc/meminfo`` in bytes (MemTotal, MemAvailable, ...); from ``os.sysconf`` where there is none."""
    try:
        with open("/proc/meminfo") as handle:
            return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle if line.split()[1:2]}
    except (OSError, ValueError, IndexError):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return {}
        return {"MemTotal": total, "MemAvailable": total}


def check(cfg, vocab_size: int | None = None, memory: dict[str, int] | None = None) -> str | None:
    """A UserError when training the model of ``cfg`` needs more memory than the machine has;
    else a warning line when it needs more than is free now, or None. Without ``vocab_size``
    (before the corpus is read) the vocabulary is taken as its 4 smallest ids: a floor."""
    memory = meminfo() if memory is None else memory
    total, free = memory.get("MemTotal"), memory.get("MemAvailable")
    found = estimate(cfg, vocab_size or 4)
    size = f"{vocab_size:,} words" if vocab_size else "any vocabulary"
    if total and found.bytes > total:
        raise UserError(
            f"this model ({cfg.arch}, {cfg.layers} x {cfg.units:,} units, embeddings {cfg.embedding_dim:,}, batch "
            f"{cfg.batch_size:,} x {cfg.window:,} words, {size}) has {found.describe()}, more than this machine's "
            f"{total / GB:,.1f} GB; pass a smaller --units, --layers, --embedding-dim, --batch-size or --window"
        )
    if free and found.bytes > free:
        return f"training needs about {found.bytes / GB:,.1f} GB ({found.describe()}) and {free / GB:,.1f} GB is free now; it may be slow or fail"
    return None
