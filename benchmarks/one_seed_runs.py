"""What `python train.py` costs a user: each CartPole seed trained in its own fresh process.

    python -m benchmarks.one_seed_runs                  # seeds 0..7, the preset
    python -m benchmarks.one_seed_runs --seeds 2 --total-env-steps 500   # a quick look
    python -m benchmarks.one_seed_runs --train-flags="--loss.target-update-interval 2" --name NAME  # a candidate

benchmarks/learning_curve.py trains its seeds together in one vmapped program, so its wall seconds
are those of all 8 seeds at once. Here every seed is its own `python train.py --seed S` (the
preset, an evaluation every 250 env steps, stopping at the first 20-episode evaluation >= 475, as
the preset does), one after another, so each run pays its own imports and compilation and has the
machine to itself. Per seed: the env steps and the run's own wall seconds (compilation included)
to that evaluation, and the process's wall seconds from launch to exit (imports, the final
evaluation and the last checkpoint included).
A seed trained alone is another program than the same seed in a vmapped batch (float sums in
another order), so its curve differs from learning_curve's: these env steps are a further sample.

Writes benchmarks/results/cartpole_cpu_one_seed_per_run.json.
"""
from __future__ import annotations

import json
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from agent.host.records import read_metrics
from benchmarks.learning_curve import first_reaching
from benchmarks.learning_curve import summarize as curve_summary
from benchmarks.provenance import RESULTS, write_results

ROOT = Path(__file__).resolve().parent.parent
SOLVED = 475.0


@dataclass(frozen=True)
class Args:
    """Each seed of the CartPole preset in its own `python train.py` process."""

    seeds: int = 8
    """Seeds first_seed..first_seed + seeds - 1, one process each, one after another."""
    first_seed: int = 0
    """The first seed."""
    total_env_steps: int = 10_000
    """Each run's budget (the preset's); a run stops earlier at its first evaluation >= 475."""
    eval_every: int = 250
    """Evaluate (20 episodes, greedy search) every this many env steps (the preset: 500)."""
    name: str = "cartpole_cpu_one_seed_per_run"
    """Output file stem (NAME.json)."""
    out_dir: str = str(RESULTS)
    """Folder for the JSON."""
    runs_dir: str = "runs/one_seed_runs"
    """Where the run folders are kept (must be empty or absent)."""
    train_flags: str = ""
    """More train.py flags for every seed, to time a candidate change to the preset; pass as
    --train-flags="--loss.target-update-interval 2" (the = keeps the value's dashes its own)."""


def command(args: Args, seed: int, out: Path) -> list[str]:
    """The train.py command line of one seed."""
    return [sys.executable, "train.py", "--seed", str(seed), "--total-env-steps", str(args.total_env_steps),
            "--eval.every-env-steps", str(args.eval_every), "--eval.stop-at-return", str(SOLVED),
            "--no-eval-on-gymnasium", "--out", str(out), *shlex.split(args.train_flags)]


def run_seed(args: Args, seed: int, runs: Path) -> dict:
    """Train one seed in a fresh process; its env steps and wall seconds to the first evaluation >= 475."""
    out = runs / f"seed_{seed}"
    launched = time.perf_counter()
    proc = subprocess.run(command(args, seed, out), cwd=ROOT, capture_output=True, text=True, check=False)
    process_s = time.perf_counter() - launched
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed}: train.py exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
    rows = read_metrics(out)
    evals = [r for r in rows if r.get("eval_return_mean") is not None]
    return {"seed": seed, "first_eval_at_least_475": first_reaching(rows, SOLVED),
            "env_steps": rows[-1]["env_steps"], "process_wall_s": round(process_s, 1),
            "first_iteration_s_including_compile": next((r["compile_s"] for r in rows if "compile_s" in r), None),
            "curve": [(r["env_steps"], round(r["wall_s"], 1), r["eval_return_mean"]) for r in evals]}


def summarize(per_seed: list[dict]) -> dict:
    """learning_curve's summary of the first evaluations >= 475 (None: never), with the worst seed's
    wall seconds and the median process wall seconds."""
    walls = [s["first_eval_at_least_475"]["wall_s"] if s["first_eval_at_least_475"] else None for s in per_seed]
    return {**curve_summary(per_seed, "first_eval_at_least_475"),
            "worst_wall_s": None if None in walls else max(walls),
            "median_process_wall_s": statistics.median(s["process_wall_s"] for s in per_seed)}


def main(args: Args) -> dict:
    started = time.perf_counter()
    if args.seeds < 1 or args.total_env_steps < 1 or args.eval_every < 1:
        raise SystemExit("--seeds, --total-env-steps and --eval-every must be >= 1")
    runs = Path(args.runs_dir)
    if runs.exists() and any(runs.iterdir()):
        raise SystemExit(f"{runs} is not empty; remove it or pass --runs-dir")
    per_seed = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        per_seed.append(run_seed(args, seed, runs))
        print(f"seed {seed}: {json.dumps(per_seed[-1]['first_eval_at_least_475'])}, "
              f"process {per_seed[-1]['process_wall_s']} s", flush=True)
    report = {
        "benchmark": ("CartPole-v1, the preset (python train.py" + (f" {args.train_flags}" if args.train_flags else "")
                      + "), each seed in its own process, one after another"),
        "eval": f"20 episodes, greedy Gumbel search, every {args.eval_every} env steps; a run stops at its "
                f"first evaluation >= {SOLVED:g}",
        "wall_clock": ("wall_s: the run's own clock from the start of training, compilation and evaluations "
                       "included; process_wall_s: launch to exit (imports, final evaluation, checkpoint)"),
        "commands": [" ".join(command(args, s, Path(args.runs_dir) / f"seed_{s}")[1:])
                     for s in range(args.first_seed, args.first_seed + args.seeds)],
        "summary": summarize(per_seed),
        "seeds": per_seed,
    }
    report = write_results(Path(args.out_dir) / f"{args.name}.json", report, args, started)
    print(json.dumps(report["summary"], indent=2))
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
