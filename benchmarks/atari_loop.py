"""Env steps/s of the whole training loop on an Atari game (the atari100k preset), with the games
stepped inside the jitted iteration (ale-py's XLA interface) and on the host, in one run.

    python -m benchmarks.atari_loop                          # Breakout, CPU-sized batch and search
    python -m benchmarks.atari_loop --batch-size 256 --num-simulations 50   # the preset's own (accelerators)
    python -m benchmarks.atari_loop --only-acting --env-stepping xla host   # acting alone, both ways

The atari100k preset with --batch-size and --num-simulations in place of its 256 and 50: on a
2-core CPU one update of the preset's own batch takes about a minute (the 64-channel stem runs on
6 x 256 frames of 96 x 96, forward and backward), so the default here is CPU-sized (32 and 16).
Two settings, timed over --iterations and --acting-iterations iterations with jax.block_until_ready
after a warm-up (--only-acting skips the first, which takes minutes per iteration on a CPU):
  whole loop: acting (one search per step over the envs, ale-py stepping on the host) and the
    learner updates the preset's replay ratio asks for (1 per env step; every EfficientZero
    addition: reanalyze searches half of each batch again). Warm-up: the first iteration (it
    compiles acting and the learner's loop body alike), then acting until the replay holds
    enough to learn; the timed iterations are the first ones with learner updates;
  acting only: no learner updates; warm-up: the first iteration.
Each setting is measured for every --env-stepping ('xla': agent/host/xla_env_loop.py; 'host':
agent/host/host_env_loop.py) in the same process, acting alone in --repeats rounds, each way timed
back to back in every round (which goes first alternates); the median over rounds of the ratio of
their env steps/s is the comparison (absolute figures on a shared CPU are noisy). Compile time (the first iteration) is reported separately. Writes benchmarks/results/NAME.{json,md}.
"""
from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

import jax
import tyro

from agent.algorithm.iteration import Agent
from agent.config import preset
from agent.host.xla_env_loop import env_loop
from benchmarks.provenance import RESULTS, write_results


@dataclass(frozen=True)
class Args:
    """Whole-loop throughput of the atari100k preset."""

    game: str = "Breakout"
    """Atari game (atari:<game>)."""
    iterations: int = 1
    """Timed iterations of the whole loop (one iteration: 4 envs x 4 steps, then 16 learner updates)."""
    acting_iterations: int = 25
    """Timed iterations of acting alone (one iteration: 4 envs x 4 steps)."""
    only_acting: bool = False
    """Measure acting alone, not the whole loop."""
    batch_size: int = 32
    """Learner batch (the preset: 256)."""
    num_simulations: int = 16
    """Simulations per search, acting and reanalyze (the preset: 50)."""
    capacity_per_env: int = 1_000
    """Replay rows per env stream (the preset: 25,000, the whole 100k run, ~7.4 GB of frames)."""
    repeats: int = 3
    """Rounds of timed acting iterations per stepping, interleaved (the median is reported)."""
    env_stepping: tuple[str, ...] = ("xla", "host")
    """How the games step, each measured in turn: 'xla' (inside the jitted iteration) and/or 'host'."""
    name: str = ""
    """Output stem (default: atari_loop_<platform>)."""


def prepare(args: Args, learn: bool, stepping: str) -> dict:
    """A warmed-up loop of one setting: {setting, config, loop, state, compile_s}."""
    base = preset(f"atari:{args.game}")
    replay = base.replay if learn else dataclasses.replace(base.replay, min_size_per_env=base.replay.capacity_per_env)
    config = dataclasses.replace(base, replay=dataclasses.replace(replay, batch_size=args.batch_size,
                                                                  capacity_per_env=args.capacity_per_env,
                                                                  min_size_per_env=min(replay.min_size_per_env,
                                                                                       args.capacity_per_env)),
                                 planner=dataclasses.replace(base.planner, num_simulations=args.num_simulations),
                                 env_stepping=stepping)
    agent = Agent(config)
    loop = env_loop(agent)
    state = loop.resume(agent.init())
    started = time.perf_counter()
    setting = f"{'whole loop' if learn else 'acting only'}, {stepping}"
    state, _ = loop.iteration(state)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - started
    print(f"[{setting}] first iteration (compiles acting and the learner): {compile_s:.0f} s", flush=True)
    # Acting until the next iteration learns: the learner is compiled already (first iteration), so the
    # first iterations with updates are timed as they are (on a CPU one of them takes minutes).
    min_rows = config.replay.min_size_per_env
    while learn and int(state.env_steps[0]) // config.num_envs + config.act_steps_per_iteration < min_rows:
        state, _ = loop.iteration(state)
    jax.block_until_ready(state)
    print(f"[{setting}] warm-up done at {int(state.env_steps[0])} env steps, {time.perf_counter() - started:.0f} s",
          flush=True)
    return {"setting": setting, "learn": learn, "config": config, "loop": loop, "state": state,
            "compile_s": compile_s, "rates": [], "update_rates": []}


def time_block(prepared: dict, iterations: int) -> None:
    """Times `iterations` iterations of a prepared loop; appends its env steps/s and updates/s."""
    state, loop, setting = prepared["state"], prepared["loop"], prepared["setting"]
    steps0, updates0 = int(state.env_steps[0]), int(state.learner.updates[0])
    started = time.perf_counter()
    for _ in range(iterations):
        state, _ = loop.iteration(state)
        if prepared["learn"]:  # minutes each on a CPU: show progress
            jax.block_until_ready(state)
            print(f"[{setting}] iteration: {int(state.env_steps[0])} env steps, {int(state.learner.updates[0])} "
                  f"updates, {time.perf_counter() - started:.0f} s", flush=True)
    jax.block_until_ready(state)  # the last iteration's replay write and updates are dispatched asynchronously
    wall = time.perf_counter() - started
    if prepared["learn"] and int(state.learner.updates[0]) == updates0:
        raise RuntimeError("the timed iterations ran no learner update: the warm-up stopped too early")
    prepared["state"] = state
    prepared["rates"].append((int(state.env_steps[0]) - steps0) / wall)
    prepared["update_rates"].append((int(state.learner.updates[0]) - updates0) / wall)
    print(f"[{setting}] {iterations} iteration(s): {prepared['rates'][-1]:.2f} env steps/s", flush=True)


def measure(args: Args, learn: bool) -> list[dict]:
    """Every --env-stepping of one setting, warmed up, then timed in turn (acting alone: --repeats rounds,
    interleaved, the median kept)."""
    prepared = [prepare(args, learn, stepping) for stepping in args.env_stepping]
    for round_ in range(1 if learn else args.repeats):
        for one in prepared if round_ % 2 == 0 else prepared[::-1]:  # each goes first in every other round
            time_block(one, args.iterations if learn else args.acting_iterations)
    points = []
    for one in prepared:
        one["loop"].close()
        config = one["config"]
        points.append({"setting": one["setting"], "env_stepping": one["loop"].description,
                       "compile_s": round(one["compile_s"], 1),
                       "env_steps_per_s": round(statistics.median(one["rates"]), 2),
                       "env_steps_per_s_repeats": [round(r, 2) for r in one["rates"]],
                       "updates_per_s": round(statistics.median(one["update_rates"]), 3),
                       "num_envs": config.num_envs, "batch_size": config.replay.batch_size,
                       "num_simulations": config.planner.num_simulations,
                       "reanalyze_fraction": config.loss.reanalyze_fraction, "channels": config.network.channels})
    return points


def main(args: Args) -> dict:
    platform = jax.devices()[0].platform
    started = time.perf_counter()
    points = [p for learn in ((False,) if args.only_acting else (True, False)) for p in measure(args, learn)]
    for p in points:
        print(p, flush=True)
    name = args.name or f"atari_loop_{platform}"
    report = {"benchmark": f"env steps/s of the training loop on atari:{args.game} (atari100k preset), "
                           f"games stepped {' and '.join(args.env_stepping)}",
              "platform": platform, "game": args.game, "points": points}
    report = write_results(RESULTS / f"{name}.json", report, args, started)
    machine = report["provenance"]["machine"]
    lines = [f"# Training loop throughput, atari:{args.game}, atari100k preset ({platform})", "",
             (f"The preset with batch {args.batch_size}, {args.num_simulations} simulations and {args.capacity_per_env:,} "
             f"replay rows per env (its own: 256, 50 and 25,000)."), "",
             ("| setting | games stepped | env steps/s | learner updates/s | compile s | envs | batch | simulations "
              "| reanalyze |"),
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {p['setting']} | {p['env_stepping']} | {p['env_steps_per_s']:.2f} | {p['updates_per_s']:.3f} | "
              f"{p['compile_s']:.0f} | {p['num_envs']} | {p['batch_size']} | {p['num_simulations']} | "
              f"{p['reanalyze_fraction']} |" for p in points]
    lines += ["", *ratio_lines(points)]
    lines += ["", (f"Machine: {machine.get('cpu')} ({machine.get('cores')} cores, {machine.get('accelerator')}); "
              f"commit {report['provenance'].get('commit')}; command `{report['provenance'].get('command')}`.")]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    return report


def ratio_lines(points: list[dict]) -> list[str]:
    """'xla / host' env steps/s of each setting measured both ways: the median over rounds of the
    round's ratio (the two were timed back to back in each round)."""
    lines = []
    for setting in ("whole loop", "acting only"):
        rates = {p["setting"].split(", ")[1]: p["env_steps_per_s_repeats"] for p in points
                 if p["setting"].startswith(setting + ",")}
        if {"xla", "host"} <= set(rates):
            ratios = [x / h for x, h in zip(rates["xla"], rates["host"])]
            lines.append(f"{setting}: games stepped inside the jit / on the host = {statistics.median(ratios):.2f}x "
                         f"env steps/s (median over {len(ratios)} rounds of the same run; rounds "
                         f"{min(ratios):.2f}-{max(ratios):.2f}x).")
    return lines


if __name__ == "__main__":
    main(tyro.cli(Args))
