"""The ``gru`` architecture: the ``lstm`` recipe with GRU layers (a third fewer recurrent
weights per unit), every position predicted, output tied to the embeddings unless ``--no-tie``.

Owns its Keras builder (GRU layers ``gru_0``, ... with ``reset_after=True``, tanh/sigmoid and no
recurrent dropout: the cuDNN-eligible form) and the numpy GRU cell that mirrors Keras's
(state ``(h,)`` per layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .base import RecurrentStack

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class GRUCell:
    kernel: np.ndarray  # (in, 3u), gates z, r, h as in Keras
    recurrent: np.ndarray  # (u, 3u)
    bias: np.ndarray  # (2, 3u): input bias, recurrent bias (reset_after=True)

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]

    def zero_state(self, batch: int) -> tuple:
        import numpy as np

        return (np.zeros((batch, self.units), np.float32),)

    def run(self, x: np.ndarray, state: tuple):
        """x (B, T, in), state (h,) (B, u) -> outputs (B, T, u), last (h,)."""
        import numpy as np

        from ..inference import sigmoid

        (h,) = state
        inputs = x @ self.kernel + self.bias[0]  # (B, T, 3u)
        outputs = np.empty(x.shape[:2] + (self.units,), dtype=x.dtype)
        for t in range(x.shape[1]):
            x_z, x_r, x_h = np.split(inputs[:, t], 3, axis=1)
            r_z, r_r, r_h = np.split(h @ self.recurrent + self.bias[1], 3, axis=1)
            z, r = sigmoid(x_z + r_z), sigmoid(x_r + r_r)
            h = z * h + (1.0 - z) * np.tanh(x_h + r * r_h)  # reset applied after the matmul
            outputs[:, t] = h
        return outputs, (h,)

    @cached_property
    def _halved(self) -> tuple:
        """kernel, recurrent kernel and both biases with the columns of the sigmoid gates (z, r)
        halved: sigmoid(x) = 0.5 + 0.5 tanh(x / 2), and halving is exact in floating point."""
        import numpy as np

        scale = np.ones(3 * self.units, self.recurrent.dtype)
        scale[: 2 * self.units] = 0.5
        return self.kernel * scale, self.recurrent * scale, self.bias * scale

    def project(self, x: np.ndarray) -> np.ndarray:
        """x (N, in) -> the input part of every step (N, 3u), for ``scan``."""
        kernel, _, bias = self._halved
        return x @ kernel + bias[0]

    def scan(self, projected: np.ndarray, index: np.ndarray, sequences: bool = False) -> np.ndarray:
        """``run`` from the zero state over windows whose step t reads ``projected[index[:, t]]``
        (index (B, T)): the last h (B, u), or with ``sequences`` every output (B, T, u); the
        gates updated in place in preallocated buffers."""
        import numpy as np

        _, recurrent, bias = self._halved
        (b, steps), u = index.shape, self.units
        h = self.zero_state(b)[0].copy()
        rec, tmp, keep = (np.empty((b, n * u), h.dtype) for n in (3, 1, 1))
        outputs = np.empty((b, steps, u), h.dtype) if sequences else None
        rows = np.ascontiguousarray(index.T)  # (T, B)
        for t in range(steps):
            np.matmul(h, recurrent, out=rec)
            rec += bias[1]
            x = projected[rows[t]]  # (B, 3u), a fresh gather (take with out= is buffered, slower)
            gates = x[:, : 2 * u]
            gates += rec[:, : 2 * u]
            np.tanh(gates, out=gates)
            gates *= 0.5
            gates += 0.5
            z, r, candidate = x[:, :u], x[:, u : 2 * u], rec[:, 2 * u :]
            candidate *= r
            candidate += x[:, 2 * u :]
            np.tanh(candidate, out=candidate)  # the reset applied after the matmul
            np.multiply(z, h, out=keep)
            np.subtract(1.0, z, out=tmp)
            tmp *= candidate
            np.add(keep, tmp, out=h)
            if outputs is not None:
                outputs[:, t] = h
        return outputs if sequences else h


class GRU(RecurrentStack):
    name = "gru"
    summary = "gru: the lstm recipe with GRU layers (reset_after, cuDNN-eligible)"
    defaults = {"units": 256, "learning_rate": 3e-3}

    cell = GRUCell
    gates, bias_rows = 3, 2

    def layer(self, units, name):
        from keras import layers

        return layers.GRU(units, return_sequences=True, reset_after=True, name=name)


ARCHITECTURE = GRU()
