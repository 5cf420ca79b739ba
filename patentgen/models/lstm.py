"""The ``lstm`` architecture (the default): Embedding -> LSTM x layers (dropout after each) ->
logits at every position, the output tied to the embedding matrix unless ``--no-tie``.

Owns its Keras builder (cuDNN-eligible LSTM layers ``lstm_0``, ``lstm_1``, ...) and the numpy
LSTM cell that mirrors Keras's for inference (state ``(h, c)`` per layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .base import RecurrentStack

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class LSTMCell:
    kernel: np.ndarray  # (in, 4u), gates i, f, g, o as in Keras
    recurrent: np.ndarray  # (u, 4u)
    bias: np.ndarray  # (4u,)

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]

    def zero_state(self, batch: int) -> tuple:
        import numpy as np

        return (np.zeros((batch, self.units), np.float32),) * 2

    def run(self, x: np.ndarray, state: tuple):
        """x (B, T, in), state (h, c) each (B, u) -> outputs (B, T, u), last (h, c)."""
        import numpy as np

        from ..inference import sigmoid

        h, c = state
        u = self.units
        inputs = x @ self.kernel + self.bias  # (B, T, 4u), all input projections at once
        outputs = np.empty(x.shape[:2] + (self.units,), dtype=x.dtype)
        for t in range(x.shape[1]):
            z = inputs[:, t] + h @ self.recurrent
            i, f, g, o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            outputs[:, t] = h
        return outputs, (h, c)

    @cached_property
    def _halved(self) -> tuple:
        """kernel, recurrent kernel and bias with the columns of the sigmoid gates (i, f, o)
        halved: sigmoid(x) = 0.5 + 0.5 tanh(x / 2), and halving is exact in floating point, so
        one tanh over all four gates gives ``run``'s numbers."""
        import numpy as np

        u = self.units
        scale = np.full(4 * u, 0.5, self.recurrent.dtype)
        scale[2 * u : 3 * u] = 1.0
        return self.kernel * scale, self.recurrent * scale, self.bias * scale

    def project(self, x: np.ndarray) -> np.ndarray:
        """x (N, in) -> the input part of every step (N, 4u), for ``scan``; rows that several
        windows share are projected once."""
        kernel, _, bias = self._halved
        return x @ kernel + bias

    def scan(self, projected: np.ndarray, index: np.ndarray, sequences: bool = False) -> np.ndarray:
        """``run`` from the zero state over windows whose step t reads ``projected[index[:, t]]``
        (index (B, T)): the last h (B, u), or with ``sequences`` every output (B, T, u). The
        gates are updated in place in preallocated (B, 4u) buffers: one matmul, one gather and
        one tanh over all gates per step."""
        import numpy as np

        _, recurrent, _ = self._halved
        (b, steps), u = index.shape, self.units
        h, c = self.zero_state(b)
        h, c = h.copy(), c.copy()
        z, tmp = np.empty((b, 4 * u), h.dtype), np.empty_like(h)
        outputs = np.empty((b, steps, u), h.dtype) if sequences else None
        rows = np.ascontiguousarray(index.T)  # (T, B)
        for t in range(steps):
            np.matmul(h, recurrent, out=z)
            z += projected[rows[t]]  # (take with out= is buffered, slower than this fresh gather)
            np.tanh(z, out=z)
            for gate in (z[:, : 2 * u], z[:, 3 * u :]):  # i, f and o: 0.5 + 0.5 tanh(x / 2)
                gate *= 0.5
                gate += 0.5
            i, f, g, o = z[:, :u], z[:, u : 2 * u], z[:, 2 * u : 3 * u], z[:, 3 * u :]
            np.multiply(f, c, out=c)
            c += np.multiply(i, g, out=tmp)
            np.multiply(o, np.tanh(c, out=tmp), out=h)
            if outputs is not None:
                outputs[:, t] = h
        return outputs if sequences else h


class LSTM(RecurrentStack):
    name = "lstm"
    summary = "lstm: LSTM layers predicting every position, output tied to the embeddings"
    defaults = {"units": 384, "learning_rate": 3e-3}

    cell = LSTMCell

    def layer(self, units, name):
        from keras import layers

        return layers.LSTM(units, return_sequences=True, name=name)


ARCHITECTURE = LSTM()
