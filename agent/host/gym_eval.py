"""Evaluate an agent on gymnasium's own env (CartPole-v1) through the host episode loop.

The host steps `episodes` gymnasium envs (agent.algorithm.rollout.host_rollout); the same
jitted greedy search picks every env's action in one batched call.
"""
from __future__ import annotations

import gymnasium
import jax
import numpy as np

from agent.algorithm.rollout import greedy_planner, host_rollout
from search.planner import plan

GYMNASIUM_IDS = {"cartpole": "CartPole-v1"}


def _search_fn(agent, num_simulations: int):
    """The jitted greedy search of an agent, built once per agent and simulation count (a multi-seed
    run evaluates every seed with it: one compile, not one per seed)."""
    cache = agent.__dict__.setdefault("_gymnasium_search", {})
    if num_simulations not in cache:
        planner = greedy_planner(num_simulations, agent.config.planner)
        cache[num_simulations] = jax.jit(lambda p, key, obs: plan(p, key, obs, model=agent.model,
                                                                  objective=agent.objective, config=planner).action)
    return cache[num_simulations]


def evaluate_on_gymnasium(agent, params, *, episodes: int, num_simulations: int, seed: int) -> np.ndarray:
    """[episodes] returns of a greedy search on gymnasium's env with the JAX env's name."""
    gym_id = GYMNASIUM_IDS.get(agent.env.name)
    if gym_id is None:
        raise ValueError(f"no gymnasium counterpart registered for env {agent.env.name!r}; "
                         f"known: {sorted(GYMNASIUM_IDS)}")
    search = _search_fn(agent, num_simulations)
    gym_envs = [gymnasium.make(gym_id) for _ in range(episodes)]
    try:
        return host_rollout(gym_envs, lambda key, obs: search(params, key, obs), jax.random.PRNGKey(seed), seed)
    finally:
        for env in gym_envs:
            env.close()
