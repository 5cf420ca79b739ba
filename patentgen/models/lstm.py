"""The ``lstm`` architecture (the default): Embedding -> LSTM x layers (dropout after each) ->
logits at every position, the output tied to the embedding matrix unless ``--no-tie``.

Owns its Keras builder (cuDNN-eligible LSTM layers ``lstm_0``, ``lstm_1``, ...) and the numpy
LSTM cell that mirrors Keras's for inference (state ``(h, c)`` per layer).
"""

from __future__ import annotations

from dataclasses import dataclass
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


class LSTM(RecurrentStack):
    name = "lstm"
    summary = "lstm: LSTM layers predicting every position, output tied to the embeddings"
    defaults = {"units": 256, "learning_rate": 3e-3}

    cell = LSTMCell

    def layer(self, units, name):
        from keras import layers

        return layers.LSTM(units, return_sequences=True, name=name)


ARCHITECTURE = LSTM()
