"""What training several seeds in one vmapped program costs: env steps/s per seed and in total.

    python -m benchmarks.seed_batch                   # 1 vs 8 seeds, the CartPole preset
    python -m benchmarks.seed_batch --seeds 1 2 4 8 --iterations 40

For each seed count, in one process (so the ratios share the machine's state): build the
agent, compile and run the first iteration (timed separately as compile), run `--warmup`
more iterations, then time `--iterations` iterations (acting and the learner updates the
replay-ratio schedule owes), synchronised with jax.block_until_ready. Every seed count
starts from the same env step, so each timed window does the same updates per seed.

Writes benchmarks/results/NAME.json with the provenance.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import tyro

from agent.algorithm.iteration import Agent
from agent.config import preset
from benchmarks.provenance import RESULTS, write_results


@dataclass(frozen=True)
class Args:
    """Env steps/s of training against the number of vmapped seeds."""

    seeds: tuple[int, ...] = (1, 8)
    """Seed counts to time, in this order."""
    warmup: int = 20
    """Iterations run after compilation and before timing (the replay fills; learning starts)."""
    iterations: int = 20
    """Iterations timed."""
    env: str = "cartpole"
    """The preset to time."""
    name: str = "seed_batch_cpu"
    """Output file stem."""
    out_dir: str = str(RESULTS)


def time_seeds(args: Args, seeds: int) -> dict:
    config = dataclasses.replace(preset(args.env), seeds=seeds)
    agent = Agent(config)
    state = agent.init()
    t0 = time.perf_counter()
    state, _ = agent.iteration(state)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    for _ in range(args.warmup):
        state, _ = agent.iteration(state)
    jax.block_until_ready(state)
    updates_before = int(state.learner.updates[0])
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        state, _ = agent.iteration(state)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t0
    steps = args.iterations * config.env_steps_per_iteration
    updates = int(state.learner.updates[0]) - updates_before
    return {"seeds": seeds, "compile_and_first_iteration_s": round(compile_s, 2), "timed_s": round(seconds, 3),
            "env_steps_per_seed": steps, "updates_per_seed": updates,
            "env_steps_per_s_per_seed": round(steps / seconds, 1),
            "env_steps_per_s_total": round(seeds * steps / seconds, 1),
            "updates_per_s_per_seed": round(updates / seconds, 1)}


def main(args: Args) -> dict:
    started = time.perf_counter()
    rows = []
    for seeds in args.seeds:
        rows.append(time_seeds(args, seeds))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows:
        row["total_throughput_vs_first"] = round(row["env_steps_per_s_total"] / base["env_steps_per_s_total"], 2)
    report = {"benchmark": f"training throughput against vmapped seeds, {args.env} preset", "rows": rows,
              "train_config": dataclasses.asdict(preset(args.env))}
    return write_results(Path(args.out_dir) / f"{args.name}.json", report, args, started)


if __name__ == "__main__":
    main(tyro.cli(Args))
