"""`check_env(env)`: a conformance check any env (yours too) can be run through.

Like pgx's `api_test`: it exercises the interface the rest of glasszero relies
on and raises `EnvCheckError` with a sentence saying what to fix.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.base import Env, State, TimeStep


class EnvCheckError(AssertionError):
    """An env broke the interface; the message names what and how to fix it."""


def _require(cond, env: Env, msg: str) -> None:
    if not bool(cond):
        raise EnvCheckError(f"{type(env).__name__} ({getattr(env, 'name', '?')}): {msg}")


def _check_timestep(env: Env, ts: TimeStep, where: str) -> None:
    _require(isinstance(ts, TimeStep), env, f"{where} must return (State, TimeStep), got {type(ts).__name__}")
    obs_shape = tuple(env.observation_shape)
    _require(ts.observation.shape == obs_shape, env,
             f"{where}: observation shape {ts.observation.shape} != env.observation_shape {obs_shape}")
    _require(ts.observation.dtype == jnp.float32, env,
             f"{where}: observation dtype {ts.observation.dtype}, expected float32 (cast in _observation)")
    _require(ts.reward.shape == () and ts.reward.dtype == jnp.float32, env,
             f"{where}: reward must be a float32 scalar, got shape {ts.reward.shape} dtype {ts.reward.dtype}")
    for flag in ("terminated", "truncated"):
        val = getattr(ts, flag)
        _require(val.shape == () and val.dtype == jnp.bool_, env,
                 f"{where}: {flag} must be a bool scalar, got shape {val.shape} dtype {val.dtype}")
    _require(ts.action_mask.shape == (env.num_actions,) and ts.action_mask.dtype == jnp.bool_, env,
             f"{where}: action_mask must be bool [{env.num_actions}], got shape {ts.action_mask.shape} "
             f"dtype {ts.action_mask.dtype}")
    _require(bool(jnp.any(ts.action_mask)) or bool(ts.done), env,
             f"{where}: no legal action in a state that is not done; action_mask needs a True")
    _require(np.all(np.isfinite(np.asarray(ts.observation))), env, f"{where}: observation has NaN or inf")


def check_env(env: Env, seed: int = 0, num_episodes: int = 2) -> None:
    """Runs the conformance checks; returns None or raises `EnvCheckError`.

    Checks: attributes; reset/step shapes and dtypes; features [F] float32;
    jit and vmap; same key -> same episode; every episode ends within
    `max_steps` (truncated exactly at the limit unless terminated); after the
    end, steps are absorbing (reward 0, flags repeated, state unchanged).
    """
    for attr in ("num_actions", "observation_shape", "feature_names", "max_steps"):
        _require(hasattr(env, attr), env, f"missing attribute {attr!r}")
    _require(int(env.num_actions) >= 1, env, "num_actions must be >= 1")
    _require(int(env.max_steps) >= 1, env, "max_steps must be >= 1")

    key = jax.random.PRNGKey(seed)
    state, ts = env.reset(key)
    _require(isinstance(state, State), env, "reset must return the base class's State (subclass envs.Env)")
    _check_timestep(env, ts, "reset")
    _require(not bool(ts.done), env, "reset returned a finished episode")
    feats = env.features(state)
    _require(feats.shape == (env.num_features,) and feats.dtype == jnp.float32, env,
             f"features must be float32 [{env.num_features}] (one per feature_names), got "
             f"shape {feats.shape} dtype {feats.dtype}")

    # jit and vmap, and agreement with the eager call.
    jit_reset, jit_step = jax.jit(env.reset), jax.jit(env.step)
    _, jts = jit_reset(key)
    _require(np.allclose(jts.observation, ts.observation), env, "jit(reset) differs from reset under the same key")
    keys = jax.random.split(key, 3)
    vstate, vts = jax.vmap(env.reset)(keys)
    _require(vts.observation.shape == (3, *env.observation_shape), env, "vmap(reset) gave the wrong batch shape")
    actions = jnp.zeros((3,), jnp.int32)
    _, vts2 = jax.vmap(env.step)(vstate, actions)
    _require(vts2.reward.shape == (3,), env, "vmap(step) gave the wrong batch shape")
    _require(jax.vmap(env.features)(vstate).shape == (3, env.num_features), env, "vmap(features) failed")

    def rollout(rollout_key):
        state, ts = jit_reset(rollout_key)
        act_key = jax.random.fold_in(rollout_key, 1)
        trace = [np.asarray(ts.observation)]
        for t in range(int(env.max_steps)):
            legal = np.flatnonzero(np.asarray(ts.action_mask))
            act_key, sub = jax.random.split(act_key)
            action = int(legal[int(jax.random.randint(sub, (), 0, len(legal)))])
            state, ts = jit_step(state, action)
            _check_timestep(env, ts, f"step {t + 1}")
            trace.append(np.asarray(ts.observation))
            if bool(ts.done):
                return state, ts, t + 1, trace
        return state, ts, int(env.max_steps), trace

    for episode in range(num_episodes):
        ep_key = jax.random.fold_in(key, episode)
        state, ts, length, trace = rollout(ep_key)
        _require(bool(ts.done), env, f"episode {episode} did not end within max_steps={env.max_steps}")
        if bool(ts.truncated):
            _require(length == env.max_steps, env,
                     f"truncated at step {length} but max_steps is {env.max_steps}")
        # Determinism: the same key gives the same episode.
        _, _, length2, trace2 = rollout(ep_key)
        _require(length == length2 and all(np.array_equal(a, b) for a, b in zip(trace, trace2, strict=True)), env,
                 "the same reset key and actions gave different episodes; draw randomness from the key")
        # Absorbing after the end.
        for action in range(env.num_actions):
            after, ts_after = jit_step(state, action)
            _require(float(ts_after.reward) == 0.0, env, "a step after the episode ended gave a reward")
            _require(bool(ts_after.terminated) == bool(ts.terminated) and
                     bool(ts_after.truncated) == bool(ts.truncated), env,
                     "a step after the episode ended changed terminated/truncated")
            same = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), after.inner, state.inner)
            _require(all(jax.tree.leaves(same)), env, "a step after the episode ended changed the state")
