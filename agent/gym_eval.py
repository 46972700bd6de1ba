"""Evaluate an agent on gymnasium's own env through a small host adapter.

The host steps `episodes` gymnasium envs; the same jitted search picks every
env's action in one batched call. Finished envs keep feeding their last
observation (ignored) so the batch shape, and so the compiled search, never
changes.
"""
from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from agent.evaluate import greedy_planner
from search.planner import plan

GYMNASIUM_IDS = {"cartpole": "CartPole-v1"}


def evaluate_on_gymnasium(agent, params, *, episodes: int, num_simulations: int, seed: int) -> np.ndarray:
    """[episodes] returns of a greedy search on gymnasium's env with the JAX env's name."""
    gym_id = GYMNASIUM_IDS.get(agent.env.name)
    if gym_id is None:
        raise ValueError(f"no gymnasium counterpart registered for env {agent.env.name!r}; "
                         f"known: {sorted(GYMNASIUM_IDS)}")
    planner = greedy_planner(num_simulations)
    search = jax.jit(lambda p, k, obs: plan(p, k, obs, model=agent.model, objective=agent.objective,
                                             config=planner).action)
    gym_envs = [gymnasium.make(gym_id) for _ in range(episodes)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(gym_envs)]).astype(np.float32)
    returns = np.zeros(episodes)
    done = np.zeros(episodes, bool)
    key = jax.random.PRNGKey(seed)
    while not done.all():
        key, sub = jax.random.split(key)
        actions = np.asarray(search(params, sub, jnp.asarray(obs)))
        for i, env in enumerate(gym_envs):
            if done[i]:
                continue
            o, r, terminated, truncated, _ = env.step(int(actions[i]))
            obs[i] = o
            returns[i] += r
            done[i] = terminated or truncated
    for env in gym_envs:
        env.close()
    return returns
