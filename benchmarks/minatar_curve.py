"""Breakout-MinAtar learning curves with the `breakout-minatar` preset, seeds vmapped in one run,
against a uniformly random policy's return on the same env.

    python -m benchmarks.minatar_curve                      # the committed CPU run (about an hour)
    python -m benchmarks.minatar_curve --seeds 1 --total-env-steps 500   # a quick look
    python -m benchmarks.minatar_curve --seeds 4 --total-env-steps 100000 --max-wall-s 300   # a GPU lease

Writes benchmarks/results/NAME.{json,md,png} (default NAME: breakout_minatar_<platform>, e.g. _cpu, _gpu): per seed the
evaluation curve (mean return of `eval_episodes` greedy-search episodes, by env steps and by wall
seconds, compilation included), the mean of its last three evaluations, the random policy's mean
return over `random_episodes` full episodes with its standard error, and the provenance.
A run stopped by a signal resumes when the benchmark is rerun (benchmarks.runs.train_or_reuse).
"""
from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import tyro

import envs
from agent.config import preset
from agent.host.records import read_metrics, rows_by_seed
from benchmarks.learning_curve import plot
from benchmarks.provenance import RESULTS, device_label, write_results
from benchmarks.runs import train_or_reuse

ENV = "breakout-minatar"


@dataclass(frozen=True)
class Args:
    """Breakout-MinAtar learning-curve benchmark (the preset, several seeds vmapped)."""

    seeds: int = 2
    """Seeds 0..seeds-1, trained together (vmapped) in one run."""
    total_env_steps: int = 1_200
    """Env-step budget of each seed: what two vmapped seeds reach in about an hour on the 2-core CPU
    (~0.8 s per update of both, and the preset makes 4 updates per env step early on); the preset's
    20,000 mean about 23,000 updates, some five hours at that rate."""
    eval_every: int = 200
    """Evaluate every this many env steps (and at the end)."""
    eval_episodes: int = 16
    """Greedy-search episodes per evaluation."""
    random_episodes: int = 1_024
    """Episodes of the uniformly random policy behind the baseline."""
    max_wall_s: float | None = None
    """Stop the run after this many wall seconds, compilation included (None: run the whole budget).
    For a machine lent for minutes: the results say how many env steps each seed reached."""
    name: str = ""
    """Output file stem (NAME.json, NAME.md, NAME.png; default breakout_minatar_<platform>)."""
    out_dir: str = str(RESULTS)
    """Folder for the results."""
    runs_dir: str = "runs/minatar_curve"
    """Where the run is kept (rerunning the benchmark reuses or resumes it)."""


def run_config(args: Args):
    """The preset at this budget, all seeds in one run, never stopping early."""
    base = preset(ENV)
    return dataclasses.replace(
        base, seed=0, seeds=args.seeds, total_env_steps=args.total_env_steps, max_wall_s=args.max_wall_s,
        out=str(Path(args.runs_dir) / (f"{ENV}-{args.seeds}seeds-{args.total_env_steps}"
                                       + (f"-{args.max_wall_s:g}s" if args.max_wall_s else ""))),
        eval=dataclasses.replace(base.eval, episodes=args.eval_episodes, every_env_steps=args.eval_every,
                                 stop_at_return=None))


def random_policy_returns(env: envs.Env, episodes: int, key: jax.Array) -> jax.Array:
    """[episodes] undiscounted returns of full episodes (to termination or the env's time limit)
    with actions drawn uniformly among the legal ones."""

    def episode(key):
        reset_key, act_key = jax.random.split(key)
        state, _ = env.reset(reset_key)

        def step(carry, key):
            state, total = carry
            logits = jnp.where(env.action_mask(state), 0.0, -jnp.inf)
            state, timestep = env.step(state, jax.random.categorical(key, logits))
            return (state, total + timestep.reward), None  # a done env is absorbing: reward 0

        (_, total), _ = jax.lax.scan(step, (state, jnp.zeros(())), jax.random.split(act_key, env.max_steps))
        return total

    return jax.jit(jax.vmap(episode))(jax.random.split(key, episodes))


def per_seed_results(seed: int, rows: list[dict]) -> dict:
    evals = [r for r in rows if r.get("eval_return_mean") is not None]
    last = [r["eval_return_mean"] for r in evals[-3:]]
    return {
        "seed": seed,
        "env_steps": rows[-1]["env_steps"],
        "updates": rows[-1]["updates"],
        "wall_s": round(rows[-1]["wall_s"], 1),
        "first_iteration_s_including_compile": next((r["compile_s"] for r in rows if "compile_s" in r), None),
        "final_eval_mean": evals[-1]["eval_return_mean"] if evals else None,
        "last_3_evals_mean": round(statistics.fmean(last), 3) if last else None,
        "best_eval_mean": max((r["eval_return_mean"] for r in evals), default=None),
        "curve": [(r["env_steps"], round(r["wall_s"], 1), r["eval_return_mean"], r["eval_return_std"])
                  for r in evals],
    }


def table(report: dict) -> str:
    """The per-seed table with the random baseline and the evaluation protocol under it (README reuses it)."""
    r = report["random_policy"]
    lines = ["| seed | env steps | updates | wall s (whole run) | final eval | mean of last 3 evals | best eval |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in report["seeds"]:
        lines.append(f"| {s['seed']} | {s['env_steps']:,} | {s['updates']:,} | {s['wall_s']:,.0f} | "
                     f"{s['final_eval_mean']:.2f} | {s['last_3_evals_mean']:.2f} | {s['best_eval_mean']:.2f} |")
    lines += ["", (f"{report['eval']}. Uniformly random policy: {r['mean']:.2f} ± {r['standard_error']:.2f} "
                   f"(mean ± standard error over {r['episodes']:,} episodes).")]
    return "\n".join(lines) + "\n"


def markdown(report: dict) -> str:
    budget = report["train_config"]["total_env_steps"]
    reached = report["seeds"][0]["env_steps"]  # the seeds step together
    steps = f"{budget:,} env steps each" if reached >= budget else \
        f"{reached:,} of {budget:,} env steps each, stopped at {report['train_config']['max_wall_s']:g} wall seconds"
    return (f"# Breakout-MinAtar, the `{ENV}` preset ({len(report['seeds'])} seeds vmapped, {steps}, "
            f"{report.get('device', 'CPU')})\n\n" + table(report))


def main(args: Args) -> dict:
    if args.seeds < 1 or args.total_env_steps < 1 or args.eval_every < 1 or args.eval_episodes < 1 \
            or args.random_episodes < 2 or (args.max_wall_s is not None and args.max_wall_s <= 0):
        raise SystemExit("--seeds, --total-env-steps, --eval-every and --eval-episodes must be >= 1, "
                         "--random-episodes >= 2, --max-wall-s > 0")
    started = time.perf_counter()
    platform = jax.devices()[0].platform
    args = dataclasses.replace(args, name=args.name or f"breakout_minatar_{platform}")
    config = run_config(args)
    train_or_reuse(config)
    per_seed = [per_seed_results(seed, rows) for seed, rows in rows_by_seed(read_metrics(Path(config.out))).items()]
    returns = random_policy_returns(envs.make(ENV), args.random_episodes, jax.random.PRNGKey(12_345))
    random_mean = float(jnp.mean(returns))
    report = {
        "benchmark": f"{ENV}, the preset (python train.py --env {ENV}) at a {platform.upper()} budget, seeds vmapped "
                     f"in one run" + (f", stopped after {args.max_wall_s:g} wall seconds"
                                      if per_seed[0]["env_steps"] < args.total_env_steps else ""),
        "device": device_label(),
        "eval": f"{args.eval_episodes} episodes per evaluation, greedy Gumbel search with "
                f"{config.eval.num_simulations} simulations, every {args.eval_every:,} env steps",
        "wall_clock": "of the whole vmapped run (all seeds at once), compilation and evaluations included",
        "train_config": dataclasses.asdict(config),
        "random_policy": {"episodes": args.random_episodes, "mean": round(random_mean, 3),
                          "standard_error": round(float(jnp.std(returns, ddof=1)) / args.random_episodes**0.5, 3)},
        "seeds": per_seed,
    }
    out_dir = Path(args.out_dir)
    report = write_results(out_dir / f"{args.name}.json", report, args, started)
    (out_dir / f"{args.name}.md").write_text(markdown(report))
    plot(per_seed, out_dir / f"{args.name}.png", f"Breakout-MinAtar, {ENV} preset — {device_label()}",
         lines=((random_mean, "--", "uniformly random policy"),), ylabel="eval return (greedy search)")
    print(markdown(report))
    return report


if __name__ == "__main__":
    main(tyro.cli(Args))
