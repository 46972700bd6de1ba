"""CartPole-v1 learning curves with the default preset, several seeds in one vmapped run.

    python -m benchmarks.learning_curve                 # 8 seeds, full budget
    python -m benchmarks.learning_curve --seeds 2 --total-env-steps 1000   # a quick look
    python -m benchmarks.learning_curve --variant per_episode_50 --name cartpole_cpu_per_episode_50
        # one of the sample-efficiency study's variants (benchmarks/sample_efficiency.py --list), longer

Writes benchmarks/results/cartpole_cpu.json (per seed: env steps and wall
seconds, compile included, to the first 20-episode evaluation >= 195 and
>= 475, the fraction of its later evaluations still >= 475, and the final evaluation;
the provenance) and cartpole_cpu.png (all seeds' curves).
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import tyro

from agent.config import preset
from agent.host.records import read_metrics, rows_by_seed
from agent.host.run import train
from benchmarks.provenance import RESULTS, cpu_model, write_results
from benchmarks.runs import _finished
from benchmarks.sample_efficiency import VARIANTS, seed_outcome, study_base


@dataclass(frozen=True)
class Args:
    """Learning-curve benchmark."""

    seeds: int = 8
    """Seeds first_seed..first_seed + seeds - 1, trained together (vmapped) in one run."""
    first_seed: int = 0
    """The first seed (8 with --seeds 8: seeds 8..15, runs independent of seeds 0..7)."""
    total_env_steps: int = 5_000
    """Env-step budget of each run."""
    eval_every: int = 250
    """Evaluate (20 episodes, greedy search) every this many env steps."""
    name: str = "cartpole_cpu"
    """Output file stem (NAME.json, NAME.png)."""
    out_dir: str = str(RESULTS)
    """Folder for the JSON and the plot."""
    runs_dir: str = "runs/learning_curve"
    """Where the runs are kept (their checkpoints feed benchmarks/objectives.py)."""
    variant: str = "default"
    """'default' is the preset itself; 'base' the study's base, the preset before observation noise and
    the mirror (sample_efficiency.study_base; what 'default' ran before the preset took the noise); any other
    name, one of the sample-efficiency study's changes (`python -m benchmarks.sample_efficiency
    --list`) to that base."""


def first_reaching(rows: list[dict], threshold: float) -> dict | None:
    for row in rows:
        if row.get("eval_return_mean") is not None and row["eval_return_mean"] >= threshold:
            return {"env_steps": row["env_steps"], "wall_s": round(row["wall_s"], 1)}
    return None


def study_variant(variant: str) -> str:
    """The study's name for a --variant other than 'default': 'base' is the study's own 'default'
    (its base unchanged); every other name is the study's."""
    return "default" if variant == "base" else variant


def preset_label(args: Args) -> str:
    """What was trained, for the results' text and the plot's title."""
    if args.variant == "default":
        return "default preset"
    return "the study's base" if args.variant == "base" else f"the study's base with variant {args.variant}"


def what_changed(args: Args) -> str:
    """The run's config in words, for the results' text."""
    return "python train.py" if args.variant == "default" else VARIANTS[study_variant(args.variant)][0]


def run_config(args: Args, out_root: Path):
    """The default preset (or `args.variant`'s change to the study's base) at this budget, all seeds
    in one run, evaluated every `eval_every` steps, never stopping early."""
    if args.variant not in ("base", *VARIANTS):
        raise SystemExit(f"unknown --variant {args.variant!r}; choose one of: default, base, "
                         f"{', '.join(v for v in VARIANTS if v != 'default')}")
    if args.variant == "default":
        base = preset("cartpole")
    else:
        base = VARIANTS[study_variant(args.variant)][1](study_base("cartpole"))
    return dataclasses.replace(
        base, seed=args.first_seed, seeds=args.seeds, total_env_steps=args.total_env_steps, out=str(out_root / "seeds"),
        eval=dataclasses.replace(base.eval, every_env_steps=args.eval_every, stop_at_return=None),
        eval_on_gymnasium=True)


def per_seed_results(seed: int, rows: list[dict]) -> dict:
    evals = [r for r in rows if r.get("eval_return_mean") is not None]
    gym = [r for r in rows if r.get("gymnasium_eval_return_mean") is not None]
    compile_s = next((r["compile_s"] for r in rows if "compile_s" in r), None)
    return {
        "seed": seed,
        "first_eval_at_least_195": first_reaching(rows, 195.0),
        "first_eval_at_least_475": first_reaching(rows, 475.0),
        # After the first evaluation >= 475, the share of the later ones still >= 475 (None: none later).
        "later_evals_at_least_475_fraction": seed_outcome(rows)["later_evals_solved_fraction"],
        "final_eval_mean": evals[-1]["eval_return_mean"] if evals else None,
        "final_eval_std": evals[-1]["eval_return_std"] if evals else None,
        "gymnasium_final_eval_mean": gym[-1]["gymnasium_eval_return_mean"] if gym else None,
        "env_steps": rows[-1]["env_steps"],
        "updates": rows[-1]["updates"],
        "wall_s": round(rows[-1]["wall_s"], 1),
        "first_iteration_s_including_compile": compile_s,
        "curve": [(r["env_steps"], r["wall_s"], r["eval_return_mean"], r["eval_return_std"]) for r in evals],
    }


def summarize(per_seed: list[dict], key: str) -> dict:
    hits = [s[key] for s in per_seed]
    steps = [h["env_steps"] if h else float("inf") for h in hits]
    walls = [h["wall_s"] if h else float("inf") for h in hits]
    finite = lambda x: None if x == float("inf") else x  # JSON has no infinity: None is "never"
    return {"median_env_steps": finite(statistics.median(steps)), "worst_env_steps": finite(max(steps)),
            "median_wall_s": finite(statistics.median(walls)), "seeds_reaching": sum(h is not None for h in hits)}


def summarize_staying(per_seed: list[dict]) -> dict:
    """How steadily the seeds that reached 475 stay there: the mean and the lowest, over those seeds
    with later evaluations, of the fraction of their later evaluations still >= 475."""
    stays = [s["later_evals_at_least_475_fraction"] for s in per_seed
             if s["later_evals_at_least_475_fraction"] is not None]
    return {"seeds": len(stays), "mean": round(statistics.fmean(stays), 3) if stays else None,
            "lowest": min(stays, default=None)}


CARTPOLE_LINES = ((475.0, "--", "475"), (195.0, ":", "195"))


def plot(per_seed: list[dict], path: Path, title: str, lines=CARTPOLE_LINES,
         ylabel: str = "eval return, 20 episodes") -> None:
    """Every seed's evaluation curve (per_seed[i]["curve"]: (env steps, wall s, mean, std) rows) by env
    steps and by wall seconds, with horizontal reference lines (value, line style, label)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for s in per_seed:
        xs = [c[0] for c in s["curve"]]
        ws = [c[1] for c in s["curve"]]
        ys = [c[2] for c in s["curve"]]
        axes[0].plot(xs, ys, marker="o", ms=3, label=f"seed {s['seed']}")
        axes[1].plot(ws, ys, marker="o", ms=3, label=f"seed {s['seed']}")
    for ax, label in ((axes[0], "env steps"), (axes[1], "wall-clock s (all seeds at once, compile included)")):
        for value, style, name in lines:
            ax.axhline(value, ls=style, c="gray", lw=1, label=name)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(args: Args) -> dict:
    started = time.perf_counter()
    out_dir = Path(args.out_dir)
    runs = Path(args.runs_dir)
    config = run_config(args, runs)  # before anything is trained: a wrong --variant fails here
    if runs.exists() and any(runs.iterdir()):
        raise FileExistsError(f"{runs} is not empty; remove it or pass --runs-dir")
    _finished(train(config), config)  # a run cut short by a signal is not summarised
    per_seed = [per_seed_results(seed, rows) for seed, rows in rows_by_seed(read_metrics(Path(config.out))).items()]
    report = {
        "benchmark": (f"CartPole-v1, {preset_label(args)} ("
                      + what_changed(args)
                      + "), seeds vmapped in one run"),
        "eval": f"20 episodes, greedy Gumbel search, every {args.eval_every} env steps",
        "wall_clock": "of the whole vmapped run (all seeds at once), compilation and evaluations included",
        "train_config": dataclasses.asdict(config),
        "summary": {">=195": summarize(per_seed, "first_eval_at_least_195"),
                    ">=475": summarize(per_seed, "first_eval_at_least_475"),
                    "later_evals_at_least_475": summarize_staying(per_seed)},
        "seeds": per_seed,
    }
    report = write_results(out_dir / f"{args.name}.json", report, args, started)
    plot(per_seed, out_dir / f"{args.name}.png", f"CartPole-v1, {preset_label(args)} — {cpu_model()}")
    print(json.dumps(report["summary"], indent=2))
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
