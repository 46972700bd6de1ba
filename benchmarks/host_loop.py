"""Throughput of the host loop (gymnasium's CartPole-v1 stepped in Python, `gymnasium:CartPole-v1`)
against the jitted loop (the JAX CartPole, `cartpole`), in one run.

    python -m benchmarks.host_loop                     # CartPole preset: 4 envs, 1 seed
    python -m benchmarks.host_loop --num-envs 16 --seeds 8

Both run the same config (the CartPole preset; only the env differs). Two settings:
  whole loop: acting and the learner updates the replay ratio asks for (the preset's 1 per env step);
  acting only: no learner updates (learning never starts), so the cost of stepping on the host shows.
Each is warmed up (compile, then until the learner runs), then timed in --rounds interleaved rounds of
--iterations iterations per loop (jax.block_until_ready at the end of each), so that both loops see the
same machine load; reported: env steps/s per loop (median over rounds) and the host/jitted ratio (median of
the rounds' ratios). Compile time (the first iteration) is reported separately.
Writes benchmarks/results/NAME.{json,md}.
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
from agent.host.host_env_loop import HostEnvLoop
from benchmarks.provenance import RESULTS, write_results


@dataclass(frozen=True)
class Args:
    """Host loop (gymnasium) vs jitted loop (JAX env) throughput on CartPole."""

    num_envs: int = 4
    """Parallel envs per seed."""
    seeds: int = 1
    """Seeds trained together."""
    iterations: int = 10
    """Iterations per loop in one timed round."""
    rounds: int = 5
    """Interleaved timed rounds."""
    name: str = ""
    """Output stem (default: host_loop_<platform>)."""


class Loop:
    """One loop to time: the agent and its iteration function (jitted, or the host loop's)."""

    def __init__(self, env: str, args: Args, learn: bool):
        base = preset(env)
        replay = base.replay if learn else dataclasses.replace(base.replay, min_size_per_env=base.replay.capacity_per_env)
        self.config = dataclasses.replace(base, num_envs=args.num_envs, seeds=args.seeds, replay=replay)
        self.agent = Agent(self.config)
        self.host = HostEnvLoop(self.agent) if self.agent.host else None
        self.iterate = self.host.iteration if self.host else self.agent.iteration
        self.state = self.agent.init()
        started = time.perf_counter()
        self.step()
        self.compile_s = time.perf_counter() - started  # compilation and one iteration
        while learn and int(self.state.learner.updates[0]) == 0:  # warm up until the learner runs
            self.step()
        self.step()

    def step(self) -> None:
        self.state, _ = self.iterate(self.state)
        jax.block_until_ready(self.state)

    def timed(self, iterations: int) -> float:
        """env steps/s over `iterations` iterations."""
        steps0 = int(self.state.env_steps[0])
        started = time.perf_counter()
        for _ in range(iterations):
            self.state, _ = self.iterate(self.state)
        jax.block_until_ready(self.state)
        return (int(self.state.env_steps[0]) - steps0) * self.config.seeds / (time.perf_counter() - started)

    def close(self) -> None:
        if self.host:
            self.host.close()


def compare(args: Args, learn: bool) -> dict:
    jitted, host = Loop("cartpole", args, learn), Loop("gymnasium:CartPole-v1", args, learn)
    rates = {"jitted": [], "host": []}
    for _ in range(args.rounds):
        rates["jitted"].append(jitted.timed(args.iterations))
        rates["host"].append(host.timed(args.iterations))
    ratios = [h / j for h, j in zip(rates["host"], rates["jitted"], strict=True)]
    for loop in (jitted, host):
        loop.close()
    return {"setting": "whole loop" if learn else "acting only",
            "updates_per_iteration": jitted.config.env_steps_per_iteration * jitted.config.replay.replay_ratio
            if learn else 0,
            "jitted_env_steps_per_s": round(statistics.median(rates["jitted"]), 1),
            "host_env_steps_per_s": round(statistics.median(rates["host"]), 1),
            "host_over_jitted": round(statistics.median(ratios), 3),
            "round_ratios": [round(r, 3) for r in ratios],
            "jitted_compile_s": round(jitted.compile_s, 2), "host_compile_s": round(host.compile_s, 2)}


def write_markdown(report: dict, path) -> None:
    lines = [f"# Host loop vs jitted loop, CartPole ({report['platform']})", "",
             (f"{report['num_envs']} envs x {report['seeds']} seed(s), CartPole preset; env steps/s summed over seeds "
             f"(median of {report['rounds']} interleaved rounds of {report['iterations']} iterations)."), "",
             "| setting | jitted (JAX env) | host (gymnasium) | host / jitted | compile s (jitted, host) |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for p in report["points"]:
        lines.append(f"| {p['setting']} | {p['jitted_env_steps_per_s']:,.0f} | {p['host_env_steps_per_s']:,.0f} | "
                     f"{p['host_over_jitted']:.2f} | {p['jitted_compile_s']:.1f}, {p['host_compile_s']:.1f} |")
    machine = report["provenance"]["machine"]
    lines += ["", (f"Machine: {machine.get('cpu')} ({machine.get('cores')} cores); commit "
              f"{report['provenance'].get('commit')}; command `{report['provenance'].get('command')}`.")]
    path.write_text("\n".join(lines) + "\n")


def main(args: Args) -> dict:
    platform = jax.devices()[0].platform
    started = time.perf_counter()
    points = []
    for learn in (True, False):
        points.append(compare(args, learn))
        print(points[-1], flush=True)
    name = args.name or f"host_loop_{platform}"
    report = {"benchmark": "env steps/s of the host loop (gymnasium:CartPole-v1) vs the jitted loop (cartpole)",
              "platform": platform, "num_envs": args.num_envs, "seeds": args.seeds, "iterations": args.iterations,
              "rounds": args.rounds, "points": points}
    report = write_results(RESULTS / f"{name}.json", report, args, started)
    write_markdown(report, RESULTS / f"{name}.md")
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
