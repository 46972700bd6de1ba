"""Which part of a trained CartPole agent plays well: the search, the value, or the prior?

    python -m benchmarks.components                     # the study's default and lookahead variants
    python -m benchmarks.components --variants default  # one variant

For every seed of a sample-efficiency study run (benchmarks/sample_efficiency.py; trained
here if its folder is missing), the final parameters play 20 greedy episodes three ways,
from the same starts:

  search      -- what the agent's evaluation does: a greedy Gumbel search on the learned model
                 scored by the learned value (16 simulations);
  value, true 1-step -- one step of lookahead on the TRUE simulator, each action scored by
                 reward + discount x the learned value of the true next observation (0 past a
                 fall): greedy play on the value head alone, with a perfect model;
  prior       -- the argmax of the policy head, no search.

If the value head had learned the value of good play, 'value, true 1-step' would balance the
pole; where it is far below 'search', the search's lookahead through the learned model is
making up for a value head that cannot tell neighbouring states apart.

Writes benchmarks/results/components_cartpole.{json,md}.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from agent.algorithm.rollout import greedy_planner, rollout
from agent.host.checkpoint import load_run
from benchmarks import sample_efficiency
from benchmarks.provenance import RESULTS, write_results
from benchmarks.runs import train_or_reuse
from networks.support import logits_to_scalar

WAYS = ("search", "value, true 1-step", "prior")


@dataclass(frozen=True)
class Args:
    """Play a study run's final parameters three ways (see the module docstring)."""

    variants: tuple[str, ...] = ("default", "bootstrap_lookahead")
    """Sample-efficiency variants to read (their runs are trained first if missing)."""
    episodes: int = 20
    """Greedy episodes per seed and way."""
    num_simulations: int = 16
    """Simulations of the 'search' way."""
    seeds: int = 8
    """Seeds of the study runs."""
    env_steps: int = 2_000
    """Env-step budget of the study runs."""
    runs_dir: str = "runs/sample_efficiency"
    """The study's runs folder."""
    out_dir: str = str(RESULTS)
    """Where components_cartpole.{json,md} go."""


def play(env, policy, key: jax.Array, episodes: int) -> jax.Array:
    """[episodes] returns of `policy(env_state [E], timestep [E]) -> actions [E]` on fresh envs,
    for the env's whole time limit (jit-able)."""
    state, timestep = jax.vmap(env.reset)(jax.random.split(key, episodes))

    def step(carry, _):
        state, timestep, returns, alive = carry
        state, timestep = jax.vmap(env.step)(state, policy(state, timestep))
        return (state, timestep, returns + alive * timestep.reward, alive * (1.0 - timestep.done)), None

    init = (state, timestep, jnp.zeros((episodes,)), jnp.ones((episodes,)))
    (_, _, returns, _), _ = jax.lax.scan(step, init, None, length=env.max_steps)
    return returns


def play_three_ways(agent, params, key: jax.Array, episodes: int, num_simulations: int) -> dict[str, float]:
    """{way: mean return} of one seed's parameters (the same starts for every way)."""
    env, net = agent.env, agent.model.net(params)

    def value(observation):
        return logits_to_scalar(net.predict(net.represent(observation))[1])

    def true_lookahead(state, _):
        q = []
        for action in range(env.num_actions):
            _, nxt = jax.vmap(env.step)(state, jnp.full((episodes,), action))
            q.append(nxt.reward + agent.config.discount * (1.0 - nxt.terminated) * value(nxt.observation))
        return jnp.argmax(jnp.stack(q, axis=-1), axis=-1)

    def prior(_, timestep):
        return jnp.argmax(net.predict(net.represent(timestep.observation))[0], axis=-1)

    planner = greedy_planner(num_simulations, agent.config.planner)
    search = jax.jit(lambda k: rollout(env, agent.model, params, agent.objective, planner, k, episodes)[0])
    return {"search": float(search(key).mean()),
            "value, true 1-step": float(jax.jit(lambda k: play(env, true_lookahead, k, episodes))(key).mean()),
            "prior": float(jax.jit(lambda k: play(env, prior, k, episodes))(key).mean())}


def run_dir(args: Args, variant: str) -> Path:
    """The study's run folder of `variant`, trained first if it is not there."""
    study = sample_efficiency.Args(seeds=args.seeds, env_steps=args.env_steps, runs_dir=args.runs_dir)
    config = sample_efficiency.variant_config(study, variant)
    train_or_reuse(config)
    return Path(config.out)


def markdown(report: dict) -> str:
    title = (f"# Which part of a trained CartPole agent plays well ({report['env_steps']:,} env steps, "
             f"{report['episodes']} greedy episodes per seed)")
    intro = ("Mean return of the final parameters of every seed of a sample-efficiency study run, played by the "
             "search the agent evaluates with, by one step of lookahead on the true simulator scored by the "
             "learned value, and by the policy prior alone (benchmarks/components.py says what each is).")
    lines = [title, "", intro, "", "| variant | way | mean over seeds | per seed |", "| --- | --- | ---: | --- |"]
    for v in report["variants"]:
        for way in WAYS:
            per_seed = [s[way] for s in v["seeds"]]
            lines.append(f"| {v['variant']} | {way} | {np.mean(per_seed):.0f} | "
                         + " ".join(f"{x:.0f}" for x in per_seed) + " |")
    return "\n".join(lines) + "\n"


def main(args: Args) -> dict:
    started = time.time()
    variants = []
    for variant in args.variants:
        folder = run_dir(args, variant)
        seeds = []
        for seed in range(args.seeds):
            agent, params = load_run(folder, seed)
            seeds.append({"seed": seed, **play_three_ways(agent, params, jax.random.PRNGKey(5), args.episodes,
                                                          args.num_simulations)})
            print(f"{variant} seed {seed}: " + ", ".join(f"{w} {seeds[-1][w]:.0f}" for w in WAYS), flush=True)
        variants.append({"variant": variant, "change": sample_efficiency.VARIANTS[variant][0], "seeds": seeds})
    report = {"benchmark": "CartPole-v1: search vs value vs prior of trained agents", "env_steps": args.env_steps,
              "episodes": args.episodes, "num_simulations": args.num_simulations, "variants": variants}
    out = Path(args.out_dir)
    full = write_results(out / "components_cartpole.json", report, args, started)
    (out / "components_cartpole.md").write_text(markdown(full))
    print(markdown(full))
    return full


if __name__ == "__main__":
    main(tyro.cli(Args))
