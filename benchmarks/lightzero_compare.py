"""glasszero's default CartPole-v1 preset next to LightZero 0.2.0 MuZero, under both protocols.

    python -m benchmarks.lightzero_compare                  # 8 seeds, 3,000 env steps
    python -m benchmarks.lightzero_compare --anchors ../shared/anchors

One vmapped run of `--seeds` seeds, evaluated on two schedules at once:
- LightZero's protocol: 3 greedy episodes every 100 learner updates; a seed's number is its
  first evaluation with mean return 500 (LightZero stops a run there);
- this project's: 20 greedy episodes every 250 env steps; a seed's number is its first
  evaluation >= 475, and the run goes on.
LightZero's curves come from the anchors files (measured on the same kind of 2-core CPU with
its own CartPole configs; see their "what"/"protocol" fields). The wall seconds of our run
include both schedules' evaluations and compilation; LightZero's include its evaluations.

Writes benchmarks/results/NAME.{json,md,png}.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tyro

from agent.algorithm.iteration import Agent
from agent.config import preset
from benchmarks.provenance import RESULTS, ROOT, cpu_model, write_results


@dataclass(frozen=True)
class Args:
    """Our default preset against LightZero's CartPole anchors, both protocols."""

    seeds: int = 8
    """Seeds 0..seeds-1, vmapped in one run."""
    env_steps: int = 3_000
    """Env-step budget (every seed runs all of it)."""
    anchors: str = str(ROOT.parent / "shared" / "anchors")
    """Folder with lightzero_cartpole.json and lightzero_cartpole_20ep.json."""
    name: str = "lightzero_compare"
    out_dir: str = str(RESULTS)


def run_both_protocols(args: Args) -> dict:
    """Trains and evaluates on both schedules; returns per-seed curves of each."""
    config = replace(preset("cartpole"), seeds=args.seeds, total_env_steps=args.env_steps)
    agent = Agent(config)
    state = agent.init()
    seeds = agent.seeds
    curves = {"lightzero_protocol": [[] for _ in seeds], "our_protocol": [[] for _ in seeds]}
    start = time.perf_counter()
    next_updates, next_steps = 100, 250
    env_steps = 0
    while env_steps < args.env_steps:
        state, _ = agent.iteration(state)
        env_steps, updates = int(state.env_steps[0]), int(state.learner.updates[0])
        schedules = []
        if updates >= next_updates:
            while next_updates <= updates:
                next_updates += 100
            schedules.append(("lightzero_protocol", 3))
        if env_steps >= next_steps:
            while next_steps <= env_steps:
                next_steps += 250
            schedules.append(("our_protocol", 20))
        for protocol, episodes in schedules:
            keys = agent.eval_keys(env_steps + (10**9 if protocol == "lightzero_protocol" else 0))  # own episodes
            returns = np.asarray(agent.evaluate(state.learner.params, keys, episodes=episodes,
                                                num_simulations=config.eval.num_simulations))
            wall = time.perf_counter() - start
            for i in range(len(seeds)):
                curves[protocol][i].append({"env_steps": env_steps, "learner_updates": updates,
                                            "wall_s": round(wall, 1),
                                            "eval_return_mean": round(float(returns[i].mean()), 2)})
    jax.block_until_ready(state)
    return {"config": dataclasses.asdict(config), "seeds": seeds, "curves": curves}


def first(curve: list[dict], threshold: float) -> dict | None:
    hit = next((p for p in curve if p["eval_return_mean"] >= threshold), None)
    return None if hit is None else {"env_steps": hit["env_steps"], "wall_s": hit["wall_s"]}


def summary(hits: list[dict | None]) -> dict:
    steps = sorted(h["env_steps"] if h else float("inf") for h in hits)
    median = statistics.median(steps)
    return {"per_seed_env_steps": [h["env_steps"] if h else None for h in hits],
            "median_env_steps": None if median == float("inf") else median,
            "worst_env_steps": None if steps[-1] == float("inf") else steps[-1],
            "never": sum(h is None for h in hits)}


def plot(ours: dict, lightzero: dict, path: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharey=True)
    panels = (("lightzero_protocol", "LightZero's protocol: 3 episodes every 100 updates", lightzero["lenient"]),
              ("our_protocol", "glasszero's protocol: 20 episodes", lightzero["strict"]))
    for row, (protocol, title, anchor_runs) in enumerate(panels):
        for col, x in enumerate(("env_steps", "wall_s")):
            ax = axes[row, col]
            for i, curve in enumerate(ours["curves"][protocol]):
                ax.plot([p[x] for p in curve], [p["eval_return_mean"] for p in curve], c="tab:blue", lw=0.8,
                        alpha=0.6, label="glasszero (each seed)" if i == 0 else None)
            for i, run in enumerate(anchor_runs):
                ax.plot([p[x] for p in run["curve"]], [p["eval_return_mean"] for p in run["curve"]], c="tab:red",
                        lw=1.2, ls="--", label="LightZero MuZero (each seed)" if i == 0 else None)
            ax.axhline(475 if protocol == "our_protocol" else 500, c="gray", lw=0.8, ls=":")
            ax.set_xlabel("env steps" if x == "env_steps" else "wall seconds (compile and evaluations included)")
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
        axes[row, 0].set_ylabel("eval return")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"CartPole-v1: glasszero default preset vs LightZero 0.2.0 MuZero — {cpu_model()}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(args: Args) -> dict:
    started = time.perf_counter()
    anchors = Path(args.anchors)
    lenient = json.loads((anchors / "lightzero_cartpole.json").read_text())
    strict = json.loads((anchors / "lightzero_cartpole_20ep.json").read_text())
    lightzero = {"lenient": [r for r in lenient["runs"] if r["algorithm"] == "muzero"],
                 "strict": [r for r in strict["runs"] if r["algorithm"] == "muzero"]}
    ours = run_both_protocols(args)
    report = {
        "benchmark": "CartPole-v1: glasszero default preset vs LightZero 0.2.0 MuZero, two protocols",
        "glasszero": {
            "lightzero_protocol_first_500": summary([first(c, 500.0) for c in ours["curves"]["lightzero_protocol"]]),
            "our_protocol_first_475": summary([first(c, 475.0) for c in ours["curves"]["our_protocol"]]),
            "curves": ours["curves"], "train_config": ours["config"]},
        "lightzero": {
            "lightzero_protocol_first_500": {"per_seed_env_steps": lenient["first_eval_500_env_steps"]["muzero"],
                                             "source": "lightzero_cartpole.json", "protocol": lenient["protocol"]},
            "our_protocol_first_475": {"per_seed_env_steps": strict["first_eval_ge_475_env_steps"],
                                       "source": "lightzero_cartpole_20ep.json", "what": strict["what"]}},
    }
    out = Path(args.out_dir)
    report = write_results(out / f"{args.name}.json", report, args, started)
    plot(ours, lightzero, out / f"{args.name}.png")
    (out / f"{args.name}.md").write_text(table(report))
    print(table(report))
    return report


def table(report: dict) -> str:
    """Per seed env steps to each protocol's bar, ours and LightZero's (README, NAME.md)."""
    g, lz = report["glasszero"], report["lightzero"]
    lines = ["| protocol | glasszero per seed (env steps) | median | LightZero per seed (env steps) |",
             "| --- | --- | ---: | --- |"]
    for key, label in (("lightzero_protocol_first_500", "LightZero's: first 3-episode eval of 500"),
                       ("our_protocol_first_475", "ours: first 20-episode eval >= 475")):
        fmt = lambda xs: ", ".join("never" if x is None else f"{x:,}" for x in xs)
        median = g[key]["median_env_steps"]
        lines.append(f"| {label} | {fmt(g[key]['per_seed_env_steps'])} | "
                     f"{'never' if median is None else f'{median:,.0f}'} | {fmt(lz[key]['per_seed_env_steps'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(tyro.cli(Args))
