"""Evaluate a saved run under any objective, on its learned model or the true simulator.

    python -m agent.evaluate RUN                          # the learned value, as trained
    python -m agent.evaluate RUN --value upright          # a hand value on the learned model
    python -m agent.evaluate RUN --value upright --model simulator   # ... on the true dynamics

Prints the mean and std of the return over `--episodes` greedy-search episodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import tyro

from search.models import SimulatorModel
from search.objective import Objective
from search.planner import PlannerConfig, plan


def rollout(env, model, params, objective: Objective, planner: PlannerConfig, key: jax.Array,
            episodes: int) -> tuple[jax.Array, Any]:
    """Searches with `model` under `objective` on `episodes` fresh envs until all are done (jit-able).

    Returns (returns [episodes], final env states, batched). The root input is the
    observation for a learned model and the env state for the true simulator. Envs
    are absorbing once done, so returns are plain reward sums and the final states
    hold each episode's end (e.g. the gridworlds' outcome flags).
    """
    reset_key, run_key = jax.random.split(key)
    env_state, ts = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
    uses_state = isinstance(model, SimulatorModel)

    def cond(carry):
        _, ts, _, t, _ = carry
        return jnp.logical_and(t < env.max_steps, ~jnp.all(ts.done))

    def body(carry):
        env_state, ts, returns, t, key = carry
        key, sub = jax.random.split(key)
        root = env_state if uses_state else ts.observation
        out = plan(params, sub, root, model=model, objective=objective, config=planner, action_mask=ts.action_mask)
        env_state, ts = jax.vmap(env.step)(env_state, out.action)
        return env_state, ts, returns + ts.reward, t + 1, key

    carry = (env_state, ts, jnp.zeros((episodes,)), jnp.zeros((), jnp.int32), run_key)
    final_state, _, returns, _, _ = jax.lax.while_loop(cond, body, carry)
    return returns, final_state


def rollout_returns(env, model, params, objective: Objective, planner: PlannerConfig, key: jax.Array,
                    episodes: int) -> jax.Array:
    """[episodes] returns of `rollout` (see there)."""
    return rollout(env, model, params, objective, planner, key, episodes)[0]


def greedy_planner(num_simulations: int) -> PlannerConfig:
    """Evaluation search: Gumbel without root noise, so the best-scored action is taken."""
    return PlannerConfig(policy="gumbel", num_simulations=num_simulations, gumbel_scale=0.0)


def load_run(run_dir: str | Path):
    """(agent, params) of a saved run's latest checkpoint."""
    from agent.checkpoint import Checkpoints
    from agent.loop import Agent
    from agent.run import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} has no config.json; pass a run folder made by train.py")
    config = load_config(run_dir)
    agent = Agent(config)
    checkpoints = Checkpoints(run_dir)
    state, _ = checkpoints.restore(agent.init())
    checkpoints.close()
    return agent, state.learner.params


def evaluate_run(run_dir: str | Path, *, value: str = "learned", model: str = "learned", episodes: int = 20,
                 num_simulations: int | None = None, blend: float = 1.0, seed: int = 0) -> np.ndarray:
    """[episodes] returns of a saved run's agent under the named objective and model."""
    from agent.objectives import make_objective

    agent, params = load_run(run_dir)
    objective = make_objective(agent.env.name, value, agent.config.discount, blend)
    if model == "simulator":
        world = SimulatorModel(agent.env)
    elif model == "learned":
        world = agent.model
    else:
        raise ValueError(f"--model must be 'learned' or 'simulator', got {model!r}")
    planner = greedy_planner(num_simulations or agent.config.eval.num_simulations)
    fn = jax.jit(lambda p, k: rollout_returns(agent.env, world, p, objective, planner, k, episodes))
    return np.asarray(fn(params, jax.random.PRNGKey(seed)))


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


def main(args: Args) -> None:
    returns = evaluate_run(args.run, value=args.value, model=args.model, episodes=args.episodes,
                           num_simulations=args.num_simulations, blend=args.blend, seed=args.seed)
    print(f"{args.run}: value={args.value} model={args.model}: return {returns.mean():.1f} ± {returns.std():.1f} "
          f"over {args.episodes} episodes")


if __name__ == "__main__":
    from agent.cli import run

    run(Args, main)
