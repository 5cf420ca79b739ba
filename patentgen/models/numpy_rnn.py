"""The ``numpy-rnn`` architecture: the reference vanilla RNN of ``patentgen.rnn_numpy``
(``s_t = tanh(U x_t + W s_{t-1})``, ``o_t = softmax(V s_t)``), trained by SGD with truncated BPTT.

Owns how train.py trains it (on the every-position chunks, padding dropped) and reads it back;
its input matrix U is its embedding, so it reads ``--units`` only and refuses the embedding,
layer, dropout and tying flags.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from .base import Architecture

BPTT_TRUNCATE = 4


class NumpyRNN(Architecture):
    name = "numpy-rnn"
    summary = "numpy-rnn: the reference vanilla RNN, trained by SGD with truncated BPTT"
    defaults = {"units": 100, "learning_rate": 0.005}
    uses = frozenset({"units"})
    fixed = {"embeddings": "learned", "glove_file": None, "freeze_embeddings": False, "layers": 1, "dropout": 0.0, "input_dropout": 0.0,
             "tie_embeddings": False}
    keras = False
    files = ("weights.npz",)

    def settle(self, cfg):
        return replace(super().settle(cfg), embedding_dim=cfg.units)  # U (units, V) is its embedding

    def load(self, path: Path, vocab_size: int):
        from ..rnn_numpy import RNNNumpy

        return RNNNumpy.load(Path(path) / "weights.npz", vocab_size)

    def train_numpy(self, cfg, prepared, stage: Path, log):
        from .. import rnn_numpy

        def pairs(side):
            chunks = prepared.windows[side].chunks
            return [(c[:-1][c[1:] != 0], c[1:][c[1:] != 0]) for c in chunks]

        def on_epoch(r):
            cut = f" (cut by the time budget at {r['epoch_fraction']:.0%})" if "epoch_fraction" in r else ""
            log(f"epoch {r['epoch']}: val_loss {r['val_loss']:.4f}, lr {r['learning_rate']:g}, {r['seconds']:.0f} s{cut}")

        model = rnn_numpy.RNNNumpy(len(prepared.tokenizer), cfg.units, bptt_truncate=BPTT_TRUNCATE, seed=cfg.seed)
        log(f"model: numpy-rnn, {model.U.size + model.V.size + model.W.size:,} parameters")
        start = time.perf_counter()
        rows = rnn_numpy.fit(model, pairs("train"), pairs("val"), cfg.learning_rate, cfg.epochs, cfg.patience,
                             cfg.max_minutes * 60 or None, cfg.seed, on_epoch=on_epoch)
        seconds = time.perf_counter() - start
        model.save(stage / "weights.npz")
        return model, rows, seconds, bool(cfg.max_minutes and seconds > cfg.max_minutes * 60)


ARCHITECTURE = NumpyRNN()
