"""Inference stage: a numpy mirror of the Keras networks, for evaluation, generation and scoring.

Owns the forward pass outside TensorFlow: batched full-window runs for evaluation, and
state-carrying steps for decoding (``next_logits(ids, state) -> (logits, state)``), so one
generated word costs one LSTM step, not a re-run of the whole window. It reads the named arrays
of ``model.export_weights`` and needs no TensorFlow at all, which keeps ``generate.py`` quick to
start. ``tests/test_inference.py`` checks it against Keras, number for number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

State = tuple  # one (h (B, units), c (B, units)) pair per LSTM layer


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class _LSTM:
    kernel: np.ndarray  # (in, 4u), gates i, f, g, o as in Keras
    recurrent: np.ndarray  # (u, 4u)
    bias: np.ndarray  # (4u,)

    def run(self, x: np.ndarray, h: np.ndarray, c: np.ndarray):
        """x (B, T, in) -> outputs (B, T, u), last (h, c)."""
        inputs = x @ self.kernel + self.bias  # (B, T, 4u), all input projections at once
        outputs = np.empty(x.shape[:2] + (h.shape[1],), dtype=x.dtype)
        for t in range(x.shape[1]):
            z = inputs[:, t] + h @ self.recurrent
            i, f, g, o = np.split(z, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            outputs[:, t] = h
        return outputs, (h, c)


class NumpyLM:
    """Forward pass of an exported ``lstm`` or ``classic`` model."""

    def __init__(self, weights: dict[str, np.ndarray], arch: str):
        self.arch = arch
        self.embeddings = weights["embedding/embeddings"]  # (V, E)
        self.lstms = []
        while f"lstm_{len(self.lstms)}/kernel" in weights:
            name = f"lstm_{len(self.lstms)}"
            self.lstms.append(_LSTM(weights[f"{name}/kernel"], weights[f"{name}/recurrent_kernel"], weights[f"{name}/bias"]))
        self.head = [(weights[f"{n}/kernel"], weights[f"{n}/bias"]) for n in ("dense", "projection", "output") if f"{n}/kernel" in weights]
        self.output_bias = weights.get("embedding/output_bias")  # tied models only

    @property
    def vocab_size(self) -> int:
        return self.embeddings.shape[0]

    @property
    def units(self) -> int:
        return self.lstms[-1].recurrent.shape[0]

    def initial_state(self, batch: int = 1) -> State:
        return tuple((np.zeros((batch, lstm.recurrent.shape[0]), np.float32),) * 2 for lstm in self.lstms)

    def hidden(self, ids: np.ndarray, state: State | None = None):
        """ids (B, T) -> top LSTM outputs (B, T, units), new state."""
        state = state or self.initial_state(ids.shape[0])
        x = self.embeddings[ids]  # (B, T, E)
        new_state = []
        for lstm, (h, c) in zip(self.lstms, state):
            x, hc = lstm.run(x, h, c)
            new_state.append(hc)
        return x, tuple(new_state)

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        """(..., units) -> (..., V)."""
        x = hidden
        for n, (kernel, bias) in enumerate(self.head):
            x = x @ kernel + bias
            if self.arch == "classic" and n == 0:
                x = np.maximum(x, 0.0)  # Dense(128, relu)
        if self.output_bias is not None:
            x = x @ self.embeddings.T + self.output_bias
        return x

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, T) -> logits for the word after each row (B, V)."""
        hidden, _ = self.hidden(ids)
        return self.logits(hidden[:, -1])

    def next_logits(self, ids, state: State | None = None):
        """Decode protocol: feed ``ids`` (one or more, 1-D) after ``state``; logits (V,), state."""
        hidden, state = self.hidden(np.asarray(ids, dtype=np.int64)[None, :], state)
        return self.logits(hidden[0, -1]), state


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
