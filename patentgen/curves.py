"""The learning curve of a run: training and validation loss by epoch, as a matplotlib figure.

Owns only the drawing (from the history rows that ``training.fit`` and the numpy RNN return);
train.py saves it as ``learning_curve.png`` in the run folder. Uses matplotlib's Agg backend:
no display needed.
"""

from __future__ import annotations


def learning_curve(rows: list[dict], title: str):
    """A figure of ``loss`` and ``val_loss`` (nats per word) against the epoch; a point where
    an epoch was cut short by the time budget is marked, and the best validation loss circled."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    epochs = [row["epoch"] for row in rows]
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        points = [(e, row[key]) for e, row in zip(epochs, rows) if row.get(key) is not None]
        if points:
            axes.plot(*zip(*points), marker="o", markersize=3, label=label)
    validation = [(row["val_loss"], row["epoch"]) for row in rows if row.get("val_loss") is not None]
    if validation:
        best, at = min(validation)
        axes.plot([at], [best], "o", markersize=10, fillstyle="none", color="black", label=f"best: {best:.4f} (epoch {at})")
    for row in rows:
        if row.get("epoch_fraction", 1.0) < 1.0:
            axes.axvline(row["epoch"], color="grey", linestyle=":", label=f"cut by the time budget at {row['epoch_fraction']:.0%}")
    axes.set(xlabel="epoch", ylabel="cross-entropy (nats per word)", title=title)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend()
    return figure
