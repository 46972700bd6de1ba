"""Throughput of the training iteration against the number of devices it is split over.

    python -m benchmarks.scaling                          # CPU: 1, 2, 4 virtual devices
    python -m benchmarks.scaling --devices 1 2 4 8 --num-envs 64

On a CPU the devices are virtual (8 of them: XLA_FLAGS=--xla_force_host_platform_device_count=8,
set by this script before JAX starts unless XLA_FLAGS already names a count): they share the same cores, so this measures the cost of the
partitioning (collectives, per-device bookkeeping), not a speed-up. On a machine with several
accelerators the same command measures the real scaling.

Per device count: env steps/s and learner updates/s of the jitted iteration (CartPole preset,
warmed up until learning runs, timed over --iterations with jax.block_until_ready), the compile
time separately (the first call: compilation and one iteration), and the ratio to one device in the same run.
Writes benchmarks/results/NAME.{json,png}.
"""
from __future__ import annotations

import os
import sys

# Virtual CPU devices exist only if the flag is set before JAX starts (accelerators ignore it).
if "jax" not in sys.modules and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"

import dataclasses
import time
from dataclasses import dataclass

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import tyro

from agent.algorithm.iteration import Agent
from agent.config import preset
from benchmarks.provenance import RESULTS, write_results


@dataclass(frozen=True)
class Args:
    """Iteration throughput vs device count."""

    devices: tuple[int, ...] = (1, 2, 4)
    """Device counts to measure (each must divide --num-envs and the batch)."""
    num_envs: int = 16
    """Parallel envs (split over the devices)."""
    batch_size: int = 256
    """Learner batch (split over the devices)."""
    iterations: int = 20
    """Timed iterations per device count."""
    name: str = ""
    """Output stem (default: scaling_<platform>)."""


def measure(args: Args, devices: int) -> dict:
    base = preset("cartpole")
    config = dataclasses.replace(base, devices=devices, num_envs=args.num_envs,
                                 replay=dataclasses.replace(base.replay, batch_size=args.batch_size,
                                                            min_size_per_env=16))
    agent = Agent(config)
    state = agent.init()
    started = time.perf_counter()
    state, _ = agent.iteration(state)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - started
    while int(state.learner.updates[0]) == 0:  # warm up until the learner runs every iteration
        state, _ = agent.iteration(state)
    state, _ = agent.iteration(state)
    jax.block_until_ready(state)
    steps0, updates0 = int(state.env_steps[0]), int(state.learner.updates[0])
    started = time.perf_counter()
    for _ in range(args.iterations):
        state, _ = agent.iteration(state)
    jax.block_until_ready(state)
    wall = time.perf_counter() - started
    return {"devices": devices, "compile_s": round(compile_s, 2), "timed_s": round(wall, 3),
            "env_steps_per_s": round((int(state.env_steps[0]) - steps0) / wall, 1),
            "updates_per_s": round((int(state.learner.updates[0]) - updates0) / wall, 2)}


def main(args: Args) -> dict:
    platform = jax.devices()[0].platform
    started = time.perf_counter()
    points = []
    skipped = [d for d in args.devices if d > jax.local_device_count()]
    for devices in args.devices:
        if devices in skipped:
            print(f"skipping {devices} devices: this process sees {jax.local_device_count()}", flush=True)
            continue
        points.append(measure(args, devices))
        print(points[-1], flush=True)
    one = next((p for p in points if p["devices"] == 1), points[0])
    for p in points:
        p["env_steps_ratio_to_1"] = round(p["env_steps_per_s"] / one["env_steps_per_s"], 3)
        p["updates_ratio_to_1"] = round(p["updates_per_s"] / one["updates_per_s"], 3)
    name = args.name or f"scaling_{platform}"
    report = {"benchmark": "training iteration throughput vs device count (CartPole preset, seeds 1)",
              "platform": platform,
              "devices_are": "virtual CPU devices sharing the same cores" if platform == "cpu" else "accelerators",
              "num_envs": args.num_envs, "batch_size": args.batch_size, "iterations": args.iterations,
              "skipped_device_counts": skipped, "points": points}
    report = write_results(RESULTS / f"{name}.json", report, args, started)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    counts = [p["devices"] for p in points]
    ax.plot(counts, [p["env_steps_ratio_to_1"] for p in points], "o-", label="env steps/s")
    ax.plot(counts, [p["updates_ratio_to_1"] for p in points], "s--", label="learner updates/s")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xticks(counts)
    ax.set_xlabel(f"devices ({report['devices_are']})")
    ax.set_ylabel("throughput / one device's")
    where = report["provenance"]["machine"]["cpu"] if platform == "cpu" else platform
    ax.set_title(f"{args.num_envs} envs, batch {args.batch_size}: {where}", fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=90)
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
