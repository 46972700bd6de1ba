"""The one episode loop: an agent searching under an objective, episode after episode.

    returns, final_states = rollout(env, model, params, objective, planner, key, episodes)
    records, final_states = trajectory(env, model, params, objective, planner, key, episodes, steps, record)
    returns = host_rollout(host_envs, act, key, seed)
    returns = host_vector_rollout(vector, act, key)

`rollout` plays `episodes` fresh JAX envs until all are done (a while loop: training
evaluation, `agent.tools.evaluate`, the benchmarks); `trajectory` plays the same
episodes (same reset keys, same search keys) for a fixed number of steps and keeps
what `record` reads at every step (inspection, rendering); `host_rollout` steps
host envs with the gymnasium API (gymnasium's own CartPole) with the same jitted
search choosing every action; `host_vector_rollout` plays the first episode of each env
of a host env's vector (gymnasium:<id>, atari:<Game>; envs.host). JAX envs are absorbing once done, so returns are plain
reward sums and the final states hold each episode's end.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from search.models import SimulatorModel
from search.objective import Objective
from search.planner import PlannerConfig, SearchOutput, plan


def greedy_planner(num_simulations: int, like: PlannerConfig | None = None) -> PlannerConfig:
    """Evaluation search: Gumbel without root noise, so the best-scored action is taken; with
    `like` (the acting planner), its Gumbel Q-scaling settings, so evaluation scores actions as
    the agent was trained to."""
    like = like or PlannerConfig()
    return PlannerConfig(policy="gumbel", num_simulations=num_simulations, gumbel_scale=0.0,
                         gumbel_q_scaling=like.gumbel_q_scaling, gumbel_value_scale=like.gumbel_value_scale,
                         max_depth=like.max_depth)


def search_step(model, params, objective: Objective, planner: PlannerConfig, env_state, timestep,
                key: jax.Array) -> SearchOutput:
    """One batched search from the current states: the root is the env state for the true
    simulator and the observation for a learned model; the env's action mask applies."""
    root = env_state if isinstance(model, SimulatorModel) else timestep.observation
    return plan(params, key, root, model=model, objective=objective, config=planner,
                action_mask=timestep.action_mask)


def reset_episodes(env, key: jax.Array, episodes: int):
    """(env states [episodes], timesteps [episodes], the key the episodes then run on): the
    starts that `rollout` and `trajectory` use for `key`."""
    reset_key, run_key = jax.random.split(key)
    env_state, timestep = jax.vmap(env.reset)(jax.random.split(reset_key, episodes))
    return env_state, timestep, run_key


def rollout(env, model, params, objective: Objective, planner: PlannerConfig, key: jax.Array,
            episodes: int) -> tuple[jax.Array, Any]:
    """Plays `episodes` fresh envs until all are done or the env's time limit (jit-able).

    Returns (returns [episodes], final env states, batched).
    """
    env_state, ts, run_key = reset_episodes(env, key, episodes)

    def cond(carry):
        _, ts, _, t, _ = carry
        return jnp.logical_and(t < env.max_steps, ~jnp.all(ts.done))

    def body(carry):
        env_state, ts, returns, t, key = carry
        key, sub = jax.random.split(key)
        out = search_step(model, params, objective, planner, env_state, ts, sub)
        env_state, ts = jax.vmap(env.step)(env_state, out.action)
        return env_state, ts, returns + ts.reward, t + 1, key

    carry = (env_state, ts, jnp.zeros((episodes,)), jnp.zeros((), jnp.int32), run_key)
    final_state, _, returns, _, _ = jax.lax.while_loop(cond, body, carry)
    return returns, final_state


def trajectory(env, model, params, objective: Objective, planner: PlannerConfig, key: jax.Array, episodes: int,
               steps: int, record: Callable[[Any, Any, SearchOutput, jax.Array], Any]) -> tuple[Any, Any]:
    """The episodes of `rollout` (same levels, same searches) for `steps` steps, recording (jit-able).

    record(env_state, timestep, search_output, key) -> pytree of [episodes, ...] arrays: what to
      keep at each step, read before the step is taken; `key` is a fresh key of its own (for a
      second search under another objective, say).
    Returns (records with a leading [steps] axis, final env states).
    """
    env_state, ts, run_key = reset_episodes(env, key, episodes)

    def body(carry, _):
        env_state, ts, key = carry
        key, sub = jax.random.split(key)
        out = search_step(model, params, objective, planner, env_state, ts, sub)
        kept = record(env_state, ts, out, jax.random.fold_in(sub, 1))
        env_state, ts = jax.vmap(env.step)(env_state, out.action)
        return (env_state, ts, key), kept

    (final_state, _, _), records = jax.lax.scan(body, (env_state, ts, run_key), None, length=steps)
    return records, final_state


def host_vector_rollout(vector, act: Callable[[jax.Array, np.ndarray], np.ndarray], key: jax.Array) -> np.ndarray:
    """[N] returns of the first episode of each of the N envs of a host vector (envs.host: reset()
    and step(actions) -> HostStep, autoresetting). act(key, observations [N, *obs]) -> actions [N],
    one batched search. Envs whose episode ended keep stepping (their next episode is ignored), so
    the batch shape, and so the compiled search, never changes."""
    obs = vector.reset()
    returns = np.zeros(len(vector))
    done = np.zeros(len(vector), bool)
    while not done.all():
        key, sub = jax.random.split(key)
        step = vector.step(np.asarray(act(sub, jnp.asarray(obs))))
        returns += np.where(done, 0.0, step.reward)
        done |= step.terminated | step.truncated
        obs = step.observation
    return returns


def host_rollout(host_envs: Sequence[Any], act: Callable[[jax.Array, np.ndarray], np.ndarray], key: jax.Array,
                 seed: int) -> np.ndarray:
    """[N] returns of one episode in each of N host envs with the gymnasium API.

    act(key, observations [N, *obs]) -> actions [N]: one batched (jitted) search. Env i is
    reset with seed + i. Finished envs keep feeding their last observation (ignored), so
    the batch shape, and so the compiled search, never changes.
    """
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(host_envs)]).astype(np.float32)
    returns = np.zeros(len(host_envs))
    done = np.zeros(len(host_envs), bool)
    while not done.all():
        key, sub = jax.random.split(key)
        actions = np.asarray(act(sub, jnp.asarray(obs)))
        for i, env in enumerate(host_envs):
            if done[i]:
                continue
            o, r, terminated, truncated, _ = env.step(int(actions[i]))
            obs[i] = o
            returns[i] += r
            done[i] = terminated or truncated
    return returns
