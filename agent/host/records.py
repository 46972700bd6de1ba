"""What a run writes besides checkpoints and config.json: metrics.jsonl, TensorBoard
events and the learning-curve PNG.

metrics.jsonl holds one row per seed and logging point, each with its "seed" (the seed
number); TensorBoard gets one folder per seed (tensorboard/seed_<n>), so its runs
selector shows the seeds side by side.
"""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from tensorboardX import SummaryWriter


def read_metrics(run_dir: Path, seed: int | None = None) -> list[dict]:
    """The rows of run_dir/metrics.jsonl (only those of seed number `seed` if given)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows if seed is None else [row for row in rows if row.get("seed") == seed]


def rows_by_seed(rows: list[dict]) -> dict[int, list[dict]]:
    """{seed number: its rows, in order}."""
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.get("seed", 0)].append(row)
    return dict(sorted(grouped.items()))


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
        self.jsonl = open(path, "a")  # noqa: SIM115 -- open for the whole run, closed by close()
        self._purge_step = None if after_step is None else after_step + 1
        self._tensorboard: dict[int, SummaryWriter] = {}

    def _writer(self, seed: int) -> SummaryWriter:
        if seed not in self._tensorboard:
            self._tensorboard[seed] = SummaryWriter(str(self.run_dir / "tensorboard" / f"seed_{seed}"),
                                                    purge_step=self._purge_step)
        return self._tensorboard[seed]

    def write(self, rows: dict | list[dict]) -> None:
        """Appends one row, or one row per seed; each row has "env_steps" and "seed"."""
        for row in [rows] if isinstance(rows, dict) else rows:
            clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            self.jsonl.write(json.dumps(clean) + "\n")
            writer = self._writer(int(row.get("seed", 0)))
            for name, value in row.items():
                if name not in ("env_steps", "seed") and isinstance(value, (int, float)):
                    writer.add_scalar(name, value, int(row["env_steps"]))
            writer.flush()
        self.jsonl.flush()

    def close(self) -> None:
        self.jsonl.close()
        for writer in self._tensorboard.values():
            writer.close()


class NullRecorder:
    """The recorder of a process that writes nothing (processes other than 0 of a multi-process run)."""

    def write(self, rows: dict | list[dict]) -> None:
        del rows

    def close(self) -> None:
        pass


def plot_learning_curve(run_dir: Path, title: str = "") -> Path | None:
    """learning_curve.png: eval return vs env steps and vs wall seconds. One seed: mean ± std
    over the evaluation's episodes. Several: every seed thin, their median bold, the band
    between the lowest and the highest seed."""
    seeds = {seed: [r for r in rows if r.get("eval_return_mean") is not None]
             for seed, rows in rows_by_seed(read_metrics(run_dir)).items()}
    seeds = {seed: rows for seed, rows in seeds.items() if rows}
    if not seeds:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, x_name, label in ((axes[0], "env_steps", "env steps"),
                              (axes[1], "wall_s", "wall-clock seconds (compile included)")):
        if len(seeds) == 1:
            (rows,) = seeds.values()
            xs = [r[x_name] for r in rows]
            means = np.array([r["eval_return_mean"] for r in rows])
            stds = np.array([r.get("eval_return_std") or 0.0 for r in rows])
            ax.plot(xs, means, marker="o", ms=3)
            ax.fill_between(xs, means - stds, means + stds, alpha=0.25)
        else:
            for rows in seeds.values():
                ax.plot([r[x_name] for r in rows], [r["eval_return_mean"] for r in rows], lw=0.8, alpha=0.45)
            length = min(len(rows) for rows in seeds.values())  # evaluations every seed has made
            table = np.array([[r["eval_return_mean"] for r in rows[:length]] for rows in seeds.values()])
            xs = np.median([[r[x_name] for r in rows[:length]] for rows in seeds.values()], axis=0)
            ax.plot(xs, np.median(table, axis=0), color="black", lw=2, label=f"median of {len(seeds)} seeds")
            ax.fill_between(xs, table.min(axis=0), table.max(axis=0), color="gray", alpha=0.2, label="min..max")
            ax.legend(fontsize=8, loc="lower right")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("eval return (mean ± std)" if len(seeds) == 1 else "eval return (mean per seed)")
    fig.suptitle(title or f"learning curve: {Path(run_dir).name}")
    fig.tight_layout()
    path = Path(run_dir) / "learning_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
