"""Learning targets from a replay window (unbatched; vmapped over the batch).

Window rows j = 0 .. K + n (K unroll steps, n TD steps), as stored by replay.
alive_j = 1 while row j belongs to the episode of row 0:

    alive_0 = 1,   alive_j = alive_{j-1} * (1 - done_{j-1})

Targets at unroll step k = 0 .. K (rlax-style names: r_t, v_t, gamma):

    value_k  = sum_{i<n} gamma^i r_{k+i} alive_{k+i}  +  gamma^n v_boot(k+n) alive_{k+n}
    reward_k = r_{k-1} alive_{k-1}                    (k >= 1)
    policy_k = pi_k,  features_k = f_k                (weighted by alive_k)

Past a *termination* the state is absorbing: value and reward targets are 0 and
count in the loss (the model must learn that falling over ends the rewards).
Past a *truncation* (time limit) the states are unknown: value, reward, policy
and feature losses there get weight 0. The value of a step whose n-step window
crosses a truncation at row t bootstraps on the episode's final observation, which
the replay keeps beside row t (the next row holds the next episode's first):

    value_k = sum_{i <= t-k} gamma^i r_{k+i}  +  gamma^(t-k+1) v_final      (k <= t < k+n)

Without it the last n states before a time limit would get targets near 1..n
while states that look the same elsewhere get the full discounted return: the
value head would be taught that a time limit it cannot see is near.

With a lower bound (LossConfig.value_lower_bound: the window's return_to_go, the
discounted reward the replay holds from row k to its episode's end),

    value_k = max(value_k, G_k)   where row k is in row 0's episode (alive_k = 1).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from agent.algorithm.replay import Transition


class Targets(NamedTuple):
    """Targets for one window, unroll steps k = 0..K.

    value: [K+1] scalar returns; reward: [K+1] (entry 0 unused);
    policy: [K+1, A]; features: [K+1, F];
    value_mask, reward_mask, policy_mask: [K+1] loss weights in {0, 1}.
    """

    value: jax.Array
    reward: jax.Array
    policy: jax.Array
    features: jax.Array
    value_mask: jax.Array
    reward_mask: jax.Array
    policy_mask: jax.Array


def alive_and_valid(window: Transition) -> tuple[jax.Array, jax.Array]:
    """([L] alive: same episode as row 0, [L] valid: a real or absorbing state).

    valid_j is 0 only past a truncation, where the true next states are unknown.
    """
    done = jnp.logical_or(window.terminated, window.truncated).astype(jnp.float32)
    alive = jnp.concatenate([jnp.ones((1,)), jnp.cumprod(1.0 - done[:-1])])
    truncated_before = jnp.concatenate([jnp.zeros((1,)), jnp.cumsum(window.truncated[:-1].astype(jnp.float32))])
    valid = (truncated_before == 0).astype(jnp.float32)
    return alive, valid


def first_truncation(window: Transition) -> jax.Array:
    """[] int: the first row of the window whose step hit the time limit (0 if none; check
    window.truncated at it)."""
    return jnp.argmax(window.truncated)


def n_step_targets(window: Transition, bootstrap_value: jax.Array, unroll_steps: int, td_steps: int,
                   discount: float, horizon: jax.Array | None = None,
                   truncation_value: jax.Array | float = 0.0) -> Targets:
    """Targets for one window of length K + n + 1.

    window: Transition with fields [L, ...], L = unroll_steps + td_steps + 1.
    bootstrap_value: [L] the target network's value of each row's observation.
    horizon: [] int in [1, td_steps], the TD horizon to use (off-policy
      correction); None uses td_steps.
    truncation_value: [] the target network's value of the final observation of the
      step at first_truncation(window), if that step hit the time limit (else unused).
    """
    k_steps, n = unroll_steps, td_steps
    horizon = jnp.asarray(n if horizon is None else horizon, jnp.int32)
    alive, valid = alive_and_valid(window)
    rewards = window.reward * alive  # [L]: rewards of in-episode transitions
    steps = jnp.arange(n)
    discounts = jnp.where(steps < horizon, discount ** steps.astype(jnp.float32), 0.0)

    t = first_truncation(window)
    truncated_here = window.truncated[t] & (alive[t] > 0)  # a time limit inside row 0's episode

    def value_at(k):
        partial = jnp.sum(jax.lax.dynamic_slice(rewards, (k,), (n,)) * discounts)
        crosses = truncated_here & (k <= t) & (t < k + horizon)
        beyond = jnp.where(crosses, discount ** (t - k + 1).astype(jnp.float32) * truncation_value, 0.0)
        return partial + discount**horizon * bootstrap_value[k + horizon] * alive[k + horizon] + beyond

    ks = jnp.arange(k_steps + 1)
    value = jax.vmap(value_at)(ks)
    if window.return_to_go is not None:
        # Past an episode's end (alive 0: a termination, or a time limit, after which nothing is valid
        # either) row k's return belongs to the next episode: the target stays as it is.
        in_episode = alive[: k_steps + 1] > 0
        value = jnp.where(in_episode, jnp.maximum(value, window.return_to_go[: k_steps + 1]), value)
    reward = jnp.concatenate([jnp.zeros((1,)), rewards[:k_steps]])
    return Targets(
        value=value,
        reward=reward,
        policy=window.policy[: k_steps + 1],
        features=window.features[: k_steps + 1],
        value_mask=valid[: k_steps + 1],
        reward_mask=jnp.concatenate([jnp.zeros((1,)), valid[:k_steps]]),
        policy_mask=alive[: k_steps + 1],
    )
