"""Inference stage: a numpy mirror of the Keras networks, for evaluation, generation and scoring.

Owns the forward pass outside TensorFlow: batched full-window runs for evaluation, and
state-carrying steps for decoding (``next_logits(ids, state) -> (logits, state)``), so one
generated word costs one LSTM step, not a re-run of the whole window. It reads the named arrays
of ``model.export_weights`` and needs no TensorFlow at all, which keeps ``generate.py`` quick to
start. The recurrent cells (LSTM, GRU) belong to their architecture modules in ``models/``;
``tests/e2e/test_inference.py`` checks every architecture against Keras, number for number.
"""

from __future__ import annotations

import numpy as np

State = tuple  # one state per recurrent layer, each a tuple of (B, units) arrays: (h, c) LSTM, (h,) GRU


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


# Activations of head layers, by layer name (the ``dense`` layer of ``classic`` is the only one).
HEAD_ACTIVATIONS = {"dense": relu}


def recurrent_stack(weights: dict[str, np.ndarray], prefix: str, cell_type) -> list:
    """The numpy cells of layers ``{prefix}_0``, ``{prefix}_1``, ... in ``weights``."""
    cells = []
    while f"{prefix}_{len(cells)}/kernel" in weights:
        name = f"{prefix}_{len(cells)}"
        cells.append(cell_type(weights[f"{name}/kernel"], weights[f"{name}/recurrent_kernel"], weights[f"{name}/bias"]))
    return cells


class NumpyLM:
    """Forward pass of an exported Keras model: embedding -> recurrent cells -> head.

    ``cells`` each have ``run(x (B, T, in), state) -> (outputs (B, T, u), state)``,
    ``zero_state(batch)`` and ``units``; the architecture module that built the Keras model
    supplies them (``models.<arch>.numpy_lm``).
    """

    def __init__(self, weights: dict[str, np.ndarray], cells: list, arch: str, every_position: bool = True):
        self.arch, self.cells, self.every_position = arch, cells, every_position
        self.embeddings = weights["embedding/embeddings"]  # (V, E)
        self.head = [(weights[f"{n}/kernel"], weights[f"{n}/bias"], HEAD_ACTIVATIONS.get(n))
                     for n in ("dense", "projection", "output") if f"{n}/kernel" in weights]
        self.output_bias = weights.get("embedding/output_bias")  # tied models only

    @property
    def vocab_size(self) -> int:
        return self.embeddings.shape[0]

    @property
    def units(self) -> int:
        return self.cells[-1].units

    def initial_state(self, batch: int = 1) -> State:
        return tuple(cell.zero_state(batch) for cell in self.cells)

    def hidden(self, ids: np.ndarray, state: State | None = None):
        """ids (B, T) -> top recurrent outputs (B, T, units), new state."""
        state = state or self.initial_state(ids.shape[0])
        x = self.embeddings[ids]  # (B, T, E)
        new_state = []
        for cell, layer_state in zip(self.cells, state):
            x, layer_state = cell.run(x, layer_state)
            new_state.append(layer_state)
        return x, tuple(new_state)

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        """(..., units) -> (..., V)."""
        x = hidden
        for kernel, bias, activation in self.head:
            x = x @ kernel + bias
            x = activation(x) if activation else x
        if self.output_bias is not None:
            x = x @ self.embeddings.T + self.output_bias
        return x

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, T) -> logits for the word after each row (B, V)."""
        hidden, _ = self.hidden(ids)
        return self.logits(hidden[:, -1])

    def window_hidden(self, flat: np.ndarray, starts: np.ndarray, window: int, sequences: bool = False) -> np.ndarray:
        """The top recurrent output after each window ``flat[s : s + window]`` (s in ``starts``),
        each run from the zero state as ``hidden`` runs it: (B, units); with ``sequences`` the
        top outputs at every step, (B, window, units). The evaluation's fast
        path: the words the windows share (neighbouring windows share all but one) are embedded
        and projected through the first layer's input kernel once, not once per window; each
        cell's ``scan`` then does one matmul, one gather and in-place gate updates per step."""
        positions = starts[:, None] + np.arange(window)  # (B, T)
        used, index = np.unique(positions, return_inverse=True)  # the words the windows read, once each
        x = self.embeddings[flat[used]]  # (N, E)
        index = index.reshape(positions.shape)
        for depth, cell in enumerate(self.cells):
            top = depth == len(self.cells) - 1
            out = cell.scan(cell.project(x), index, sequences=sequences or not top)  # (B, T, u), or (B, u) at the top
            if not top:
                x, index = out.reshape(-1, cell.units), np.arange(out.shape[0] * window).reshape(positions.shape)
        return out

    def window_logits(self, flat: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
        """``last_logits`` of the windows ``flat[s : s + window]``, from ``window_hidden``: (B, V)."""
        if not all(hasattr(cell, "scan") for cell in self.cells):
            return self.last_logits(flat[starts[:, None] + np.arange(window)])
        return self.logits(self.window_hidden(flat, starts, window))

    def next_logits(self, ids, state: State | None = None):
        """Decode protocol: feed ``ids`` (one or more, 1-D) after ``state``; logits (V,), state."""
        hidden, state = self.hidden(np.asarray(ids, dtype=np.int64)[None, :], state)
        return self.logits(hidden[0, -1]), state


def window_logits(lm, flat: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """The logits (B, V) after each window ``flat[s : s + window]`` of any model: the numpy
    networks' ``window_logits`` where it has one, else ``last_logits`` of the gathered windows."""
    if hasattr(lm, "window_logits"):
        return lm.window_logits(flat, starts, window)
    return lm.last_logits(flat[starts[:, None] + np.arange(window)])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
