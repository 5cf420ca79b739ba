"""The ``gru`` architecture: the ``lstm`` recipe with GRU layers (a third fewer recurrent
weights per unit), every position predicted, output tied to the embeddings unless ``--no-tie``.

Owns its Keras builder (GRU layers ``gru_0``, ... with ``reset_after=True``, tanh/sigmoid and no
recurrent dropout: the cuDNN-eligible form) and the numpy GRU cell that mirrors Keras's
(state ``(h,)`` per layer).
"""

from __future__ import annotations

from dataclasses import dataclass
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
