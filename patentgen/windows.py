"""Windows stage: encoded documents -> batches of (inputs, integer targets) for training.

Owns how text is cut into fixed windows. Two shapes:

* ``every`` (default): each document is cut into chunks of ``window + 1`` ids at stride
  ``window``; the model predicts every position, so one chunk gives up to ``window`` targets
  with contexts of 1..window words. The last chunk is right-padded with ``<pad>`` (0), which
  the loss ignores. Memory: one int32 per token.
* ``classic`` (the published design): every ``window`` consecutive ids of a document predict
  the next one (stride 1). Only window starts are stored; batches are gathered on the fly, so
  memory stays one int32 per token plus one int64 per window, never a one-hot matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import get as architecture
from .tokenizer import PAD_ID


def every_position_chunks(docs: list[np.ndarray], window: int) -> np.ndarray:
    """(n_chunks, window + 1) int32, right-padded; chunk k of a doc starts at k * window."""
    rows = []
    for doc in docs:
        for start in range(0, max(len(doc) - 1, 0), window):
            piece = doc[start : start + window + 1]
            rows.append(np.pad(piece, (0, window + 1 - len(piece)), constant_values=PAD_ID))
    if not rows:
        return np.zeros((0, window + 1), dtype=np.int32)
    return np.asarray(rows, dtype=np.int32)


def classic_starts(docs: list[np.ndarray], window: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, starts): ``flat[s : s + window + 1]`` is one window (inputs + target)."""
    flat = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
    offsets = np.cumsum([0] + [len(doc) for doc in docs])
    starts = [np.arange(o, o + len(doc) - window, dtype=np.int64) for o, doc in zip(offsets, docs) if len(doc) > window]
    return flat, (np.concatenate(starts) if starts else np.zeros(0, np.int64))


def count_targets(chunks: np.ndarray) -> int:
    """Real (non-pad) targets in every-position chunks."""
    return int((chunks[:, 1:] != PAD_ID).sum())


def _rows(n: int, batch_size: int, seed: int | None, first_epoch: int, epochs: int):
    """Batches of row indices (B,) int64: in order (``seed`` None, one pass), or reshuffled for
    every epoch from ``first_epoch`` to ``epochs`` - 1 in one stream. An epoch's order depends
    only on (seed, epoch), so training resumed at epoch k sees exactly the batches it would
    have seen without the interruption."""
    import tensorflow as tf

    if seed is None:
        return tf.data.Dataset.range(n).batch(batch_size)

    def one_epoch(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=key)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    return tf.data.Dataset.range(first_epoch, epochs).flat_map(one_epoch)


def _finish(ds):
    """Prefetch; shard by data (not files) under a multi-worker strategy."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


def _gathered(ds, take, width: int):
    """Map batches of row indices to ``take(rows)`` (B, width) int32, computed by numpy: the
    arrays stay where they are (memory-mapped from the prepared-corpus cache, or in memory) and
    are never copied into the graph, so training memory does not grow with the corpus."""
    import tensorflow as tf

    def gather(rows):
        batch = tf.numpy_function(lambda r: np.ascontiguousarray(take(r), dtype=np.int32), [rows], tf.int32, stateful=False)
        batch.set_shape((None, width))
        return batch

    return ds.map(gather)


def starts_dataset(flat: np.ndarray, starts: np.ndarray, window: int, batch_size: int, seed=None, first_epoch=0, epochs=1):
    """Classic batches: inputs (B, window) int32, targets (B,) int32."""
    offsets = np.arange(window + 1, dtype=np.int64)
    ds = _rows(len(starts), batch_size, seed, first_epoch, epochs)
    ds = _gathered(ds, lambda rows: flat[starts[rows][:, None] + offsets[None, :]], window + 1)
    return _finish(ds.map(lambda w: (w[:, :-1], w[:, -1])))


def chunks_dataset(chunks: np.ndarray, batch_size: int, seed=None, first_epoch=0, epochs=1):
    """Every-position batches: inputs (B, window) int32, targets (B, window) int32 (0 = pad)."""
    ds = _gathered(_rows(len(chunks), batch_size, seed, first_epoch, epochs), lambda rows: chunks[rows], chunks.shape[1])
    return _finish(ds.map(lambda w: (w[:, :-1], w[:, 1:])))


@dataclass(frozen=True)
class Windows:
    """One side's windows in both shapes: ``flat[s : s + window + 1]`` for s in ``starts``, and
    every-position ``chunks``."""

    flat: np.ndarray  # (N,) int32 ids of the side's documents, concatenated
    starts: np.ndarray  # (W,) int64 starts of full-context windows
    chunks: np.ndarray  # (C, window + 1) int32, right-padded
    window: int
    spelling: np.ndarray | None = None  # (N,) float64 log P(spelling | <unk>, context) per flat id, 0 if in vocabulary

    @classmethod
    def from_docs(cls, docs: list[np.ndarray], window: int, spelling: list[np.ndarray] | None = None) -> "Windows":
        """``spelling``: each document's ``Tokenizer.spelling_logprobs`` (for open-vocabulary scores)."""
        flat, starts = classic_starts(docs, window)
        spelling_flat = np.concatenate(spelling) if spelling else None
        return cls(flat, starts, every_position_chunks(docs, window), window, spelling_flat)

    def targets(self, arch: str) -> int:
        """How many targets one pass over these windows trains on."""
        return count_targets(self.chunks) if architecture(arch).every_position else len(self.starts)

    def rows(self, arch: str) -> int:
        """Training examples for ``arch``: chunks (every-position models) or windows (``classic``)."""
        return len(self.chunks) if architecture(arch).every_position else len(self.starts)

    def steps(self, arch: str, batch_size: int) -> int:
        """Batches per epoch."""
        return -(-self.rows(arch) // batch_size)

    def dataset(self, arch: str, batch_size: int, seed: int | None = None, first_epoch: int = 0, epochs: int = 1):
        """A ``tf.data.Dataset`` of batches for ``arch``: one pass in order (``seed`` None), or
        epochs ``first_epoch`` .. ``epochs`` - 1 back to back, each shuffled by (seed, epoch)."""
        if not architecture(arch).every_position:
            return starts_dataset(self.flat, self.starts, self.window, batch_size, seed, first_epoch, epochs)
        return chunks_dataset(self.chunks, batch_size, seed, first_epoch, epochs)


def windows_split(docs: list[np.ndarray], window: int, seed: int, shares: tuple[float, float] = (0.6, 0.1),
                  spelling: list[np.ndarray] | None = None):
    """The published protocol (all windows shuffled, then cut), with a validation slice of its own.

    Returns (train, validation, test) Windows, all over all the documents' ids (and ``spelling``,
    as in ``Windows.from_docs``): the first ``shares[0]`` of the shuffled windows train, the next
    ``shares[1]`` choose checkpoints and fit the caches, the rest (30% by default, the published
    test share) is reported. Windows of one document land on every side, so the test scores are
    optimistic; kept only to set beside the published figure.
    """
    whole = Windows.from_docs(docs, window, spelling)
    rng = np.random.default_rng(seed)
    starts = whole.starts[rng.permutation(len(whole.starts))]
    chunks = whole.chunks[rng.permutation(len(whole.chunks))]

    def cut(n: int) -> tuple[int, int]:
        return int(round(shares[0] * n)), int(round((shares[0] + shares[1]) * n))

    (s1, s2), (c1, c2) = cut(len(starts)), cut(len(chunks))
    return tuple(Windows(whole.flat, starts[lo:hi], chunks[clo:chi], window, whole.spelling)
                 for (lo, hi), (clo, chi) in zip(((0, s1), (s1, s2), (s2, None)), ((0, c1), (c1, c2), (c2, None))))
