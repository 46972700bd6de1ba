"""Evaluate a saved run under any objective, on its learned model or the true simulator.

    python -m agent.tools.evaluate RUN                          # the learned value, as trained
    python -m agent.tools.evaluate RUN --value upright          # a hand value on the learned model
    python -m agent.tools.evaluate RUN --value upright --model simulator   # ... on the true dynamics

Prints the mean and std of the return over `--episodes` greedy-search episodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jax
import numpy as np
import tyro

import envs
from agent.algorithm.rollout import greedy_planner, rollout
from agent.host.checkpoint import load_run
from agent.host.gym_eval import play_host_vector
from agent.host.run import return_text
from agent.objectives import make_objective
from agent.tools.cli import run
from search.models import SimulatorModel


def evaluate_run(run_dir: str | Path, *, value: str = "learned", model: str = "learned", episodes: int = 20,
                 num_simulations: int | None = None, blend: float = 1.0, seed: int = 0,
                 run_seed: int | None = None) -> np.ndarray:
    """[episodes] returns of a saved run's agent (seed number `run_seed` of a multi-seed run;
    None: its first) under the named objective and model."""
    agent, params = load_run(run_dir, run_seed)
    objective = make_objective(agent.env.name, value, agent.config.discount, blend)
    if agent.host:
        return _evaluate_host_run(agent, params, objective, model, episodes, num_simulations, seed)
    if model == "simulator":
        # A value that reads the value head (learned, or blended with it) needs the network at every
        # node: the true dynamics then carry the agent's own prior and value.
        world = SimulatorModel(agent.env, agent.model if objective.needs_learned_value else None)
    elif model == "learned":
        world = agent.model
    else:
        raise ValueError(f"--model must be 'learned' or 'simulator', got {model!r}")
    planner = greedy_planner(num_simulations or agent.config.eval.num_simulations, agent.config.planner)
    fn = jax.jit(lambda p, k: rollout(agent.env, world, p, objective, planner, k, episodes)[0])
    return np.asarray(fn(params, jax.random.PRNGKey(seed)))


def _evaluate_host_run(agent, params, objective, model: str, episodes: int, num_simulations: int | None,
                       seed: int) -> np.ndarray:
    """[episodes] returns of a host env's run (gymnasium:<id>, atari:<Game>): the first episode of each of
    `episodes` evaluation envs (Atari: raw score, whole games), reset with seeds seed, seed + 1, ..."""
    if model == "simulator":
        envs.require_jax_env(agent.env, "--model simulator")
    return play_host_vector(agent, params, agent.env.vector(range(seed, seed + episodes), training=False),
                            objective=objective, seed=seed,
                            num_simulations=num_simulations or agent.config.eval.num_simulations)


@dataclass(frozen=True)
class Args:
    """Evaluate a saved run under a chosen objective."""

    run: tyro.conf.Positional[str]
    """Run folder written by train.py."""
    value: str = "learned"
    """'learned', 'zero', or a hand value of the env (cartpole: upright; chain: toward_goal, toward_wall)."""
    model: Literal["learned", "simulator"] = "learned"
    """Plan through the learned world model or the env's true simulator."""
    blend: float = 1.0
    """Weight of --value against the learned value: (1 - blend) x learned + blend x value."""
    episodes: int = 20
    """Episodes (run in parallel)."""
    num_simulations: int | None = None
    """Simulations per search (default: the run's eval setting)."""
    seed: int = 0
    """Seed of the evaluation episodes."""
    run_seed: int | None = None
    """Which trained seed of a multi-seed run (--seeds) to evaluate (default: its first)."""


def main(args: Args) -> None:
    returns = evaluate_run(args.run, value=args.value, model=args.model, episodes=args.episodes,
                           num_simulations=args.num_simulations, blend=args.blend, seed=args.seed,
                           run_seed=args.run_seed)
    mean = float(returns.mean())
    print(f"{args.run}: value={args.value} model={args.model}: return {return_text(mean, mean)} ± "
          f"{return_text(float(returns.std()), mean)} over {args.episodes} episodes")


if __name__ == "__main__":
    run(Args, main)
