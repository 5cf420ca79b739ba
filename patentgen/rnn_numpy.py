"""The reference vanilla RNN in numpy: forward pass, loss, truncated BPTT, gradient check, SGD.

Owns the classic tutorial model, kept exact and small as the validated baseline and as the
oracle for the Keras side:

    s_t = tanh(U[:, x_t] + W s_{t-1}),    o_t = softmax(V s_t)

U is (hidden, word), W (hidden, hidden), V (word, hidden), each uniform in +-1/sqrt(n) for n
incoming connections. The one-hot input is a column lookup. Everything that does not depend on
the previous step is computed for all steps at once; the BPTT inner loop runs over the
truncation depth (4 by default), not over the vocabulary or (for truncated BPTT) the sentence.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import UserError
from .inference import log_softmax


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class RNNNumpy:
    arch = "numpy-rnn"
    every_position = True  # predicts every position (evaluate.py scores all of them)

    def __init__(self, word_dim: int, hidden_dim: int = 100, bptt_truncate: int | None = 4, dtype=np.float32, seed: int = 0):
        if word_dim < 3:
            raise UserError(f"a vocabulary of {word_dim} words is too small for the RNN; it needs at least 3")
        self.word_dim, self.hidden_dim, self.bptt_truncate = word_dim, hidden_dim, bptt_truncate
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)

        def uniform(n_in, shape):
            return rng.uniform(-1 / np.sqrt(n_in), 1 / np.sqrt(n_in), shape).astype(self.dtype)

        self.U = uniform(word_dim, (hidden_dim, word_dim))
        self.W = uniform(hidden_dim, (hidden_dim, hidden_dim))
        self.V = uniform(hidden_dim, (word_dim, hidden_dim))

    # ----- forward ---------------------------------------------------------------------------
    def _states(self, x: Sequence[int], s0: np.ndarray | None = None) -> np.ndarray:
        """Hidden states (T + 1, hidden); row -1 is the initial state (zeros by default)."""
        T = len(x)
        s = np.zeros((T + 1, self.hidden_dim), self.dtype)
        if s0 is not None:
            s[-1] = s0
        inputs = self.U[:, x].T  # (T, hidden): the one-hot product is a column lookup
        for t in range(T):
            s[t] = np.tanh(inputs[t] + self.W @ s[t - 1])
        return s

    def forward_propagation(self, x: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(o (T, word) softmax outputs, s (T + 1, hidden) states with s[-1] the initial zeros)."""
        s = self._states(x)
        return _softmax(s[:-1] @ self.V.T), s  # all output steps in one product

    def predict(self, x: Sequence[int]) -> np.ndarray:
        return np.argmax(self.forward_propagation(x)[0], axis=1)

    def total_loss(self, X: Sequence[Sequence[int]], Y: Sequence[Sequence[int]]) -> float:
        """Summed cross-entropy over every word of every sentence."""
        total = 0.0
        for x, y in zip(X, Y):
            logp = log_softmax((self._states(x)[:-1] @ self.V.T).astype(np.float64))
            total -= logp[np.arange(len(y)), y].sum()
        return float(total)

    def calculate_loss(self, X, Y) -> float:
        """Mean cross-entropy per word; about ln(word_dim) at initialisation."""
        return self.total_loss(X, Y) / max(sum(len(y) for y in Y), 1)

    # ----- gradients ---------------------------------------------------------------------------
    def bptt(self, x: Sequence[int], y: Sequence[int]):
        """Gradients (dLdU, dLdV, dLdW) of the sentence's summed cross-entropy, truncated BPTT."""
        T = len(y)
        o, s = self.forward_propagation(x)
        delta_o = o.copy()
        delta_o[np.arange(T), y] -= 1.0  # (T, word)
        prev = np.roll(s, 1, axis=0)[:T]  # prev[t] = s[t - 1], the zero state for t = 0
        dLdV = delta_o.T @ s[:T]  # (word, hidden), all steps at once
        deltas = (delta_o @ self.V) * (1 - s[:T] ** 2)  # (T, hidden): delta of origin step t
        at = np.zeros_like(deltas)  # at[tau]: the sum of all deltas that reach step tau
        depth = T if self.bptt_truncate is None else min(T, self.bptt_truncate + 1)
        for j in range(depth):  # step j back from every origin at once
            at[: T - j] += deltas[j:]
            deltas[j:] = (deltas[j:] @ self.W) * (1 - prev[: T - j] ** 2)
        dLdW = at.T @ prev
        dLdU = np.zeros_like(self.U)
        np.add.at(dLdU.T, np.asarray(x), at)  # column x[tau] gets at[tau]
        return dLdU, dLdV, dLdW

    def sgd_step(self, x, y, learning_rate: float) -> None:
        dLdU, dLdV, dLdW = self.bptt(x, y)
        self.U -= learning_rate * dLdU
        self.V -= learning_rate * dLdV
        self.W -= learning_rate * dLdW

    def gradient_check(self, x, y, h: float = 1e-5, error_threshold: float = 1e-6) -> dict[str, float]:
        """Largest relative error between BPTT and centred differences, per parameter.

        Checked on a float64 copy with full BPTT, whatever this model's dtype and truncation: a
        truncated gradient is deliberately not the loss's gradient, and float32 losses cannot
        resolve a step small enough for a 1e-6 threshold. Raises AssertionError naming the first
        entry above ``error_threshold``.
        """
        model = self.copy(np.float64, bptt_truncate=None)
        analytic = dict(zip("UVW", model.bptt(x, y)))
        worst = {}
        for name in "UVW":
            param = getattr(model, name)
            worst[name] = 0.0
            for index in np.ndindex(param.shape):
                original = param[index]
                param[index] = original + h
                plus = model.total_loss([x], [y])
                param[index] = original - h
                minus = model.total_loss([x], [y])
                param[index] = original
                numeric = (plus - minus) / (2 * h)
                grad = analytic[name][index]
                denom = abs(numeric) + abs(grad)
                error = 0.0 if denom == 0 else abs(grad - numeric) / denom
                worst[name] = max(worst[name], error)
                if error > error_threshold:
                    raise AssertionError(
                        f"gradient check failed for d{name}{index}: bptt {grad:.8g}, numerical {numeric:.8g}, "
                        f"relative error {error:.3g}"
                    )
        return worst

    def copy(self, dtype=None, bptt_truncate: int | None | str = "same") -> "RNNNumpy":
        """An independent copy, optionally in another dtype or with another truncation."""
        model = RNNNumpy.__new__(RNNNumpy)
        model.word_dim, model.hidden_dim = self.word_dim, self.hidden_dim
        model.bptt_truncate = self.bptt_truncate if bptt_truncate == "same" else bptt_truncate
        model.dtype = np.dtype(dtype or self.dtype)
        model.U, model.V, model.W = (getattr(self, p).astype(model.dtype, copy=True) for p in "UVW")
        return model

    # ----- batched inference (the interface evaluate.py and the decode loop use) --------------
    @property
    def vocab_size(self) -> int:
        return self.word_dim

    @property
    def units(self) -> int:
        return self.hidden_dim

    @property
    def embeddings(self) -> np.ndarray:
        """(word, hidden): column x of U is word x's input vector."""
        return self.U.T

    def hidden(self, ids: np.ndarray, state: np.ndarray | None = None):
        """ids (B, T) -> states (B, T, hidden), last state (B, hidden)."""
        ids = np.asarray(ids)
        s = np.zeros((ids.shape[0], self.hidden_dim), self.dtype) if state is None else state
        inputs = self.U.T[ids]  # (B, T, hidden)
        out = np.empty(ids.shape + (self.hidden_dim,), self.dtype)
        for t in range(ids.shape[1]):
            s = np.tanh(inputs[:, t] + s @ self.W.T)
            out[:, t] = s
        return out, s

    def logits(self, hidden: np.ndarray) -> np.ndarray:
        return hidden @ self.V.T

    def last_logits(self, ids: np.ndarray) -> np.ndarray:
        return self.logits(self.hidden(ids)[0][:, -1])

    def next_logits(self, ids: Sequence[int], state=None):
        """Decode protocol: logits (word,) after feeding ``ids``; the state is s_t (1, hidden)."""
        out, state = self.hidden(np.asarray(ids, dtype=np.int64)[None, :], state)
        return self.logits(out[0, -1]).astype(np.float64), state

    # ----- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        np.savez(path, U=self.U, V=self.V, W=self.W, bptt_truncate=-1 if self.bptt_truncate is None else self.bptt_truncate)

    @classmethod
    def load(cls, path: str | Path, word_dim: int | None = None) -> "RNNNumpy":
        """Load an .npz, checking that U, V and W agree with each other (and with ``word_dim``)."""
        try:
            with np.load(path) as archive:
                U, V, W = archive["U"], archive["V"], archive["W"]
                truncate = int(archive["bptt_truncate"]) if "bptt_truncate" in archive.files else 4
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise UserError(f"cannot read RNN parameters from {path} ({err.__class__.__name__}: truncated, or not what "
                            "train.py wrote); the run folder is damaged: copy it again or retrain the run") from None
        hidden, words = U.shape if U.ndim == 2 else (None, None)
        if U.ndim != 2 or W.shape != (hidden, hidden) or V.shape != (words, hidden):
            raise UserError(f"{path}: shapes disagree (U {U.shape}, V {V.shape}, W {W.shape}); retrain the run")
        if word_dim is not None and words != word_dim:
            raise UserError(f"{path} has {words} words but the tokenizer has {word_dim}; the run folder is mixed up, retrain it")
        model = cls.__new__(cls)
        model.word_dim, model.hidden_dim = words, hidden
        model.bptt_truncate = None if truncate < 0 else truncate
        model.dtype = U.dtype
        model.U, model.V, model.W = U, V, W
        return model


def sgd_epoch(model: RNNNumpy, X, Y, learning_rate: float, rng: np.random.Generator, deadline: float | None) -> float:
    """One pass over the sentences in random order; the share of them trained: 1.0, or less if
    ``deadline`` (perf_counter) passed first."""
    order = rng.permutation(len(Y))
    for n, i in enumerate(order, 1):
        model.sgd_step(X[i], Y[i], learning_rate)
        if deadline is not None and time.perf_counter() > deadline:
            return n / len(order)
    return 1.0


def fit(
    model: RNNNumpy,
    train: list[tuple[np.ndarray, np.ndarray]],
    val: list[tuple[np.ndarray, np.ndarray]],
    learning_rate: float,
    epochs: int,
    patience: int,
    time_budget_s: float | None,
    seed: int = 0,
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict]:
    """SGD epochs with the validation loss after each (the rate halves when it rises), early
    stopping after ``patience`` epochs without a better loss; the model ends with its best
    parameters. Returns one row per epoch."""
    X, Y = [x for x, _ in train], [y for _, y in train]
    vX, vY = [x for x, _ in val], [y for _, y in val]
    rng = np.random.default_rng(seed)
    start, rows, best = time.perf_counter(), [], None
    deadline = None if time_budget_s is None else start + time_budget_s
    for epoch in range(epochs):
        fraction = sgd_epoch(model, X, Y, learning_rate, rng, deadline)
        finished = fraction >= 1.0 and (deadline is None or time.perf_counter() <= deadline)
        val_loss = model.calculate_loss(vX, vY)
        row = {"epoch": epoch + 1, "val_loss": val_loss, "learning_rate": learning_rate,
               "seconds": round(time.perf_counter() - start, 2)}
        if fraction < 1.0:
            row["epoch_fraction"] = round(fraction, 4)  # cut short by the time budget
        rows.append(row)
        if on_epoch:
            on_epoch(row)
        if best is None or val_loss < best[0]:
            best = (val_loss, epoch, model.U.copy(), model.V.copy(), model.W.copy())
        elif val_loss > rows[-2]["val_loss"]:
            learning_rate *= 0.5
        if not finished or epoch - best[1] >= patience:
            break
    _, _, model.U, model.V, model.W = best
    return rows


def bptt_loop(model: RNNNumpy, x: Sequence[int], y: Sequence[int]):
    """The tutorial's per-time-step BPTT, kept to check and time the vectorised one against."""
    T = len(y)
    o, s = model.forward_propagation(x)
    dLdU, dLdV, dLdW = np.zeros_like(model.U), np.zeros_like(model.V), np.zeros_like(model.W)
    delta_o = o.copy()
    delta_o[np.arange(T), y] -= 1.0
    truncate = T if model.bptt_truncate is None else model.bptt_truncate
    for t in np.arange(T)[::-1]:
        dLdV += np.outer(delta_o[t], s[t].T)
        delta_t = model.V.T.dot(delta_o[t]) * (1 - (s[t] ** 2))
        for bptt_step in np.arange(max(0, t - truncate), t + 1)[::-1]:
            dLdW += np.outer(delta_t, s[bptt_step - 1])
            dLdU[:, x[bptt_step]] += delta_t
            delta_t = model.W.T.dot(delta_t) * (1 - s[bptt_step - 1] ** 2)
    return dLdU, dLdV, dLdW
