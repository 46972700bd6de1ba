"""CartPole returns of trained agents under swapped objectives and world models.

    python -m benchmarks.objectives                   # every seed of runs/learning_curve/seeds/ (benchmarks.learning_curve)
    python -m benchmarks.objectives --runs a b c      # any run folders

For each trained seed of each run folder: mean return over `episodes` greedy searches with
  learned value   -- the value head, on the learned world model (as trained);
  learned value, true simulator -- the same prior and value head, read from the true observation
                     at every node of a search on the env's dynamics: the world model left out, so
                     the gap to the first row is what the learned model's errors cost;
  hand value      -- the 'upright' hand value of the decoded features, on the learned model;
  hand value, true simulator -- the same function of the exact features, on the env's dynamics.
Per seed it also records the world model's drift (agent.tools.inspect.model_drift): the mean
|decoded - true feature| DRIFT_DEPTHS steps into the model's own unroll along the actions of
`episodes` greedy episodes with the learned value.
Writes benchmarks/results/objectives_cartpole.{json,png}.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from agent.config import load_config
from agent.host.checkpoint import load_run
from agent.objectives import make_objective
from agent.tools.evaluate import evaluate_run
from agent.tools.inspect import collect_trajectories, model_drift
from benchmarks.provenance import RESULTS, write_results

SETTINGS = {
    "learned value (learned model)": {"value": "learned", "model": "learned"},
    "learned value (true simulator)": {"value": "learned", "model": "simulator"},
    "hand value 'upright' (learned model, decoded features)": {"value": "upright", "model": "learned"},
    "hand value 'upright' (true simulator)": {"value": "upright", "model": "simulator"},
}
DRIFT_DEPTHS = (0, 1, 5, 10)  # steps into the learned model's own unroll


def drift_of(run: Path, seed: int, episodes: int, num_simulations: int) -> dict:
    """{feature: [mean |decoded - true| at each of DRIFT_DEPTHS]} along greedy learned-value episodes."""
    agent, params = load_run(run, seed)
    hand = make_objective(agent.env.name, "upright", agent.config.discount)
    records = collect_trajectories(agent, params, hand, episodes=episodes, max_steps=agent.env.max_steps,
                                   num_simulations=num_simulations, seed=0, tree_episodes=0)
    errors = model_drift(agent.model, params, records, max(DRIFT_DEPTHS))
    return {name: [round(float(errors[k, i]), 4) for k in DRIFT_DEPTHS]
            for i, name in enumerate(agent.env.feature_names)}


@dataclass(frozen=True)
class Args:
    """Returns of trained CartPole agents under swapped objectives and world models."""

    runs: tuple[str, ...] = ()
    """Run folders, every seed of each (default: runs/learning_curve/seeds)."""
    episodes: int = 20
    """Evaluation episodes per run and objective."""
    num_simulations: int = 16
    """Simulations per search."""
    name: str = "objectives_cartpole"
    """Output file stem (NAME.json, NAME.png)."""
    out_dir: str = str(RESULTS)
    """Folder for the JSON and the plot."""


def main(args: Args) -> dict:
    started = time.perf_counter()
    runs = [Path(r) for r in args.runs] or [p for p in [Path("runs/learning_curve/seeds")] if p.exists()]
    if not runs:
        raise FileNotFoundError("no runs: run `python -m benchmarks.learning_curve` first or pass --runs")
    table = []
    for run in runs:
        config = load_config(run)
        for seed in range(config.seed, config.seed + config.seeds):
            name = f"{run.name} seed {seed}" if len(runs) > 1 else f"seed{seed}"
            row = {"run": name}
            for label, setting in SETTINGS.items():
                returns = evaluate_run(run, episodes=args.episodes, num_simulations=args.num_simulations,
                                       run_seed=seed, **setting)
                row[label] = {"mean": float(returns.mean()), "std": float(returns.std())}
                print(f"{name}: {label}: {returns.mean():.1f} ± {returns.std():.1f}", flush=True)
            row["model_drift"] = drift_of(run, seed, args.episodes, args.num_simulations)
            print(f"{name}: model drift at depths {DRIFT_DEPTHS}: {row['model_drift']}", flush=True)
            table.append(row)
    report = {"benchmark": "CartPole-v1 return under swapped objectives, trained checkpoints",
              "episodes": args.episodes, "num_simulations": args.num_simulations, "drift_depths": list(DRIFT_DEPTHS),
              "run_dirs": [str(r) for r in runs], "runs": table,
              "mean_over_runs": {label: float(np.mean([r[label]["mean"] for r in table])) for label in SETTINGS}}
    out_dir = Path(args.out_dir)
    report = write_results(out_dir / f"{args.name}.json", report, args, started)
    plot(table, out_dir / f"{args.name}.png")
    return report


def plot(table: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(SETTINGS)
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for i, label in enumerate(labels):
        xs = np.arange(len(table)) + i * width
        ax.bar(xs, [r[label]["mean"] for r in table], width, yerr=[r[label]["std"] for r in table],
               label=label, capsize=2)
    ax.set_xticks(np.arange(len(table)) + width * (len(labels) - 1) / 2, [r["run"] for r in table])
    ax.axhline(475, ls="--", c="gray", lw=1)
    ax.set_ylabel("return (20 episodes)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"CartPole-v1: the same trained agent under {len(labels)} objectives and models")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main(tyro.cli(Args))
