"""Evaluate an agent on gymnasium envs through the host episode loop: gymnasium's own CartPole-v1
for the JAX CartPole, and the envs of a host env's run (gymnasium:<id>).

The host steps `episodes` gymnasium envs (agent.algorithm.rollout.host_rollout); the same
jitted greedy search picks every env's action in one batched call.
"""
from __future__ import annotations

import gymnasium
import jax
import numpy as np

from agent.algorithm.rollout import greedy_planner, host_rollout, host_vector_rollout
from search.objective import Objective
from search.planner import plan

GYMNASIUM_IDS = {"cartpole": "CartPole-v1"}


def _search_fn(agent, num_simulations: int, objective: Objective | None = None):
    """The jitted greedy search of an agent, built once per agent, simulation count and objective (a
    multi-seed run evaluates every seed with it: one compile, not one per seed)."""
    objective = objective or agent.objective
    cache = agent.__dict__.setdefault("_gymnasium_search", {})
    if (num_simulations, objective) not in cache:
        planner = greedy_planner(num_simulations, agent.config.planner)
        cache[num_simulations, objective] = jax.jit(lambda p, key, obs: plan(p, key, obs, model=agent.model,
                                                                             objective=objective,
                                                                             config=planner).action)
    return cache[num_simulations, objective]


def play_host_episodes(agent, params, host_envs: list, *, num_simulations: int, seed: int,
                       objective: Objective | None = None) -> np.ndarray:
    """[N] returns of one greedy-search episode in each of N gymnasium envs (env i reset with seed + i),
    under `objective` (default: the agent's). The envs are closed afterwards."""
    search = _search_fn(agent, num_simulations, objective)
    try:
        return host_rollout(host_envs, lambda key, obs: search(params, key, obs), jax.random.PRNGKey(seed), seed)
    finally:
        for env in host_envs:
            env.close()


def play_host_vector(agent, params, vector, *, num_simulations: int, seed: int,
                     objective: Objective | None = None) -> np.ndarray:
    """[N] returns of the first greedy-search episode of each env of a host env's vector (envs.host,
    envs.atari), under `objective` (default: the agent's). The vector is closed afterwards."""
    search = _search_fn(agent, num_simulations, objective)
    try:
        return host_vector_rollout(vector, lambda key, obs: search(params, key, obs), jax.random.PRNGKey(seed))
    finally:
        vector.close()


def evaluate_on_gymnasium(agent, params, *, episodes: int, num_simulations: int, seed: int) -> np.ndarray:
    """[episodes] returns of a greedy search on gymnasium's env with the JAX env's name."""
    gym_id = GYMNASIUM_IDS.get(agent.env.name)
    if gym_id is None:
        raise ValueError(f"no gymnasium counterpart registered for env {agent.env.name!r}; "
                         f"known: {sorted(GYMNASIUM_IDS)}")
    return play_host_episodes(agent, params, [gymnasium.make(gym_id) for _ in range(episodes)],
                              num_simulations=num_simulations, seed=seed)
