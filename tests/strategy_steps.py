"""Helper for test_distribute.py, run in a subprocess (devices must be set before TensorFlow
starts): train a tiny LSTM for a few steps under one strategy and print the losses as JSON.

    python tests/strategy_steps.py default|mirrored|multiworker OUT_DIR

The windows have no padding, so every replica averages over the same number of targets and
the losses can be compared with the default strategy's number for number.
"""

import json
import sys
from pathlib import Path

import numpy as np

from patentgen import distribute
from patentgen.model import compile_model
from patentgen.models import build_model
from patentgen.training import Schedule, fit, seed_everything
from patentgen.windows import Windows


def windows(seed: int, docs: int) -> Windows:
    rng = np.random.default_rng(seed)
    return Windows.from_docs([rng.integers(3, 40, 3 * 8 + 1).astype(np.int32) for _ in range(docs)], window=8)


def main(name: str, out: Path) -> None:
    setup = distribute.make(name, allow_fallback=False, cpu_devices=2 if name == "mirrored" else None)
    seed_everything(0)
    with setup.strategy.scope():
        model = compile_model(build_model(40, "lstm", embedding_dim=6, units=8), learning_rate=0.01)
        distribute.adopt(model, setup)
        rows, _ = fit(model, windows(0, 16), windows(1, 4), "lstm", out, Schedule(epochs=2, patience=5, batch_size=8), verbose=0)
    print(json.dumps({"replicas": setup.replicas, "losses": [v for r in rows for v in (r["loss"], r["val_loss"])]}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
