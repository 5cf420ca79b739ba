"""What an architecture is: the contract each module under ``patentgen/models/`` fulfils.

An architecture owns its Keras builder (or numpy trainer), its numpy inference step and state,
the settings it reads (flags for the others are refused), the settings it fixes (recorded in
``config.json`` as the model has them) and how its weights are read back from a run folder. The
registry (``patentgen.models``) maps ``--arch`` to one of them; nothing else names them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from dataclasses import replace
from pathlib import Path

if TYPE_CHECKING:
    import numpy as np

# The model settings (TrainConfig fields) an architecture may read; each says which it does.
MODEL_SETTINGS = ("embeddings", "glove_file", "embedding_dim", "freeze_embeddings", "layers", "units", "dropout", "input_dropout",
                  "tie_embeddings")


class Architecture:
    name = ""
    summary = ""  # one line for --arch's help
    defaults: dict = {}  # settings whose default is this architecture's own (units, learning_rate)
    uses: frozenset = frozenset(MODEL_SETTINGS)  # model settings it reads; flags for the others are refused
    fixed: dict = {}  # settings it fixes, recorded in config.json as the model has them
    keras = True  # trained by Keras (so it can resume, fine-tune, distribute, use mixed precision)
    every_position = True  # predicts every position of a chunk (else only the word after a window)
    files = ("weights.npz", "model.keras")  # what its run folder holds besides tokenizer/config/metrics

    def settle(self, cfg):
        """``cfg`` with the settings this architecture fixes."""
        return replace(cfg, **self.fixed)

    def run_name(self, cfg) -> str:
        """The default run folder's name."""
        return f"{self.name}-{cfg.embeddings}" if "embeddings" in self.uses else self.name

    def build(self, vocab_size: int, embedding_dim: int = 50, matrix: np.ndarray | None = None,
              trainable_embeddings: bool = True, layers_count: int = 1, units: int = 256,
              dropout: float = 0.0, tie: bool = True, input_dropout: float = 0.0):
        """The Keras model: ids (B, T) int32 -> logits (B, T, V), or (B, V) for window models."""
        raise NotImplementedError(f"{self.name} is not a Keras architecture")

    def numpy_lm(self, weights: dict[str, np.ndarray]):
        """The numpy inference model for the named arrays of ``model.export_weights``."""
        raise NotImplementedError

    def load(self, path: Path, vocab_size: int):
        """The numpy inference model of a run folder's weights."""
        return self.numpy_lm(read_weights(path))

    def train_numpy(self, cfg, prepared, stage: Path, log):
        """For architectures trained outside Keras: (model, history rows, seconds, out of time)."""
        raise NotImplementedError(f"{self.name} is trained by Keras")

    def parameters(self, cfg, vocab_size: int) -> int:
        """How many parameters the model of ``cfg`` has for ``vocab_size`` words (Keras's
        ``count_params``), computed without building it."""
        raise NotImplementedError

    def batch_floats(self, cfg, vocab_size: int) -> int:
        """About how many floats one training batch keeps for the backward pass: the logits with
        their softmax and gradient, and each recurrent layer's inputs, gates and outputs."""
        positions = cfg.batch_size * cfg.window
        outputs = cfg.batch_size * (cfg.window if self.every_position else 1)
        return 3 * outputs * vocab_size + positions * (cfg.embedding_dim + cfg.layers * cfg.units * 8)


class RecurrentStack(Architecture):
    """Embedding -> recurrent layers ``{name}_0``, ... -> logits at every position
    (``model.every_position_model``); a subclass names its Keras layer and its numpy cell."""

    gates = 4  # weight blocks per recurrent layer (LSTM: i, f, g, o)
    bias_rows = 1  # bias vectors per layer (GRU with reset_after: 2)

    def parameters(self, cfg, vocab_size):
        e, u, v = cfg.embedding_dim, cfg.units, vocab_size
        recurrent = sum(self.gates * u * ((e if i == 0 else u) + u + self.bias_rows) for i in range(cfg.layers))
        tied = cfg.tie_embeddings and not cfg.freeze_embeddings
        output = (u * e + e + v) if tied else (u * v + v)  # projection to E and the output bias, or a full layer
        return v * e + recurrent + output

    def layer(self, units: int, name: str):
        """The Keras recurrent layer (sequences out)."""
        raise NotImplementedError

    cell: type = object  # the numpy cell: (kernel, recurrent_kernel, bias) -> run(x, state), zero_state, units

    def build(self, vocab_size, embedding_dim=50, matrix=None, trainable_embeddings=True, layers_count=1,
              units=256, dropout=0.0, tie=True, input_dropout=0.0):
        from ..model import every_position_model

        return every_position_model(vocab_size, lambda i: self.layer(units, f"{self.name}_{i}"), self.name,
                                    embedding_dim, matrix, trainable_embeddings, layers_count, dropout, tie, input_dropout)

    def numpy_lm(self, weights):
        from ..inference import NumpyLM, recurrent_stack

        return NumpyLM(weights, recurrent_stack(weights, self.name, self.cell), self.name)


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """The named arrays of a run folder's ``weights.npz`` (``np.load``'s errors for a damaged one)."""
    import numpy as np

    with np.load(Path(path) / "weights.npz") as archive:
        return {name: archive[name] for name in archive.files}
