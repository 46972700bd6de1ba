"""What a run writes besides checkpoints and config.json: metrics.jsonl, TensorBoard
events and the learning-curve PNG."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from tensorboardX import SummaryWriter


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Recorder:
    """Appends metric rows to metrics.jsonl and TensorBoard.

    after_step: for a resumed run, the env step of the checkpoint it continues from: rows
    written after it (by the attempt that crashed) are dropped from metrics.jsonl and
    hidden in TensorBoard (its purge_step), so that no step is recorded twice.
    """

    def __init__(self, run_dir: Path, after_step: int | None = None):
        self.run_dir = Path(run_dir)
        path = self.run_dir / "metrics.jsonl"
        if after_step is not None and path.exists():
            kept = [row for row in read_metrics(self.run_dir) if row["env_steps"] <= after_step]
            partial = path.with_suffix(".jsonl.partial")
            partial.write_text("".join(json.dumps(row) + "\n" for row in kept))
            os.replace(partial, path)
        self.jsonl = open(path, "a")
        self.tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"),
                                         purge_step=None if after_step is None else after_step + 1)

    def write(self, row: dict) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self.jsonl.write(json.dumps(clean) + "\n")
        self.jsonl.flush()
        step = int(row["env_steps"])
        for name, value in row.items():
            if name != "env_steps" and isinstance(value, (int, float)) and value is not None:
                self.tensorboard.add_scalar(name, value, step)
        self.tensorboard.flush()

    def close(self) -> None:
        self.jsonl.close()
        self.tensorboard.close()


def plot_learning_curve(run_dir: Path, title: str = "") -> Path | None:
    """learning_curve.png: eval return (mean +- std) vs env steps and vs wall seconds."""
    rows = [r for r in read_metrics(run_dir) if r.get("eval_return_mean") is not None]
    if not rows:
        return None
    steps = [r["env_steps"] for r in rows]
    walls = [r["wall_s"] for r in rows]
    means = [r["eval_return_mean"] for r in rows]
    stds = [r.get("eval_return_std") or 0.0 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, xs, label in ((axes[0], steps, "env steps"), (axes[1], walls, "wall-clock seconds (compile included)")):
        ax.plot(xs, means, marker="o", ms=3)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], alpha=0.25)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("eval return (mean ± std)")
    fig.suptitle(title or f"learning curve: {Path(run_dir).name}")
    fig.tight_layout()
    path = Path(run_dir) / "learning_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
