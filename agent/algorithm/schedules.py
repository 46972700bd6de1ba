"""Every quantity of the algorithm that changes over a run, in one place.

    replay_ratio(env_steps, replay)                   learner updates owed per env step
    priority_beta(env_steps, total_env_steps, beta_0) PER's importance-weight exponent
    corrected_td_steps(age, td_steps, total)          EfficientZero's off-policy TD horizon

(The learning rate's schedule is optax's, built in agent.algorithm.learner.make_optimizer.)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from agent.config import ReplayConfig


def replay_ratio(env_steps: jax.Array, replay: ReplayConfig) -> jax.Array:
    """[] updates per env step: linear from `replay_ratio_start` to `replay_ratio` over
    `replay_ratio_decay_steps` env steps, then constant."""
    frac = jnp.clip(env_steps / max(replay.replay_ratio_decay_steps, 1), 0.0, 1.0)
    return replay.replay_ratio_start + frac * (replay.replay_ratio - replay.replay_ratio_start)


def priority_beta(env_steps: jax.Array | int, total_env_steps: int, beta_start: float) -> jax.Array:
    """[] PER importance-weight exponent: linear from `beta_start` to 1 over the run."""
    progress = jnp.clip(env_steps / total_env_steps, 0.0, 1.0)
    return beta_start + progress * (1.0 - beta_start)


def corrected_td_steps(age_env_steps: jax.Array, td_steps: int, total_env_steps: int,
                       fraction: float = 0.3) -> jax.Array:
    """EfficientZero's off-policy correction: shorter TD horizons for older data.

        n(age) = clip(td_steps - floor(age / (fraction * total_env_steps)), 1, td_steps)

    age_env_steps: [...] how many env steps ago the sample was collected.
    With td_steps = 5 and fraction 0.3 this is EfficientZero's
    clip(5 - age / (0.3 x training steps), 1, 5): fresh data uses all 5 steps,
    data older than 1.2 x 0.3 x the run's length bootstraps after 1 step, where
    the (recent) target network knows more than the old policy's rewards.
    """
    shrink = jnp.floor(age_env_steps / (fraction * total_env_steps)).astype(jnp.int32)
    return jnp.clip(td_steps - shrink, 1, td_steps)
