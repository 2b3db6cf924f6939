"""PNG figures of a run: the training curve and a confusion matrix (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..base.atomic import atomic_write


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: works on machines without a display
    import matplotlib.pyplot as plt

    return plt


def plot_history(history: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Training loss and train/dev accuracy per epoch, saved as a PNG."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_ax.plot(epochs, [r["loss"] for r in history], marker="o")
    loss_ax.set(xlabel="epoch", ylabel="training loss")
    acc_ax.plot(epochs, [r["train_acc"] for r in history], marker="o", label="train")
    dev = [(r["epoch"], r["dev_acc"]) for r in history if r.get("dev_acc") is not None]
    if dev:
        acc_ax.plot(*zip(*dev), marker="o", label="dev")
    acc_ax.set(xlabel="epoch", ylabel="accuracy")
    acc_ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    """A labelled confusion matrix (rows true, columns predicted), saved as a PNG."""
    plt = _pyplot()
    size = 1.2 + 0.7 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    peak = max((max(row) for row in matrix), default=0)
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > peak / 2 else "black")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | Path) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    return path
