"""MinAtar games through gymnax, behind glasszero's `Env` interface.

gymnax already implements MinAtar in pure JAX; this adapter only maps its
`reset_env` / `step_env` (the variants without gymnax's auto-reset) onto the base
class, which then adds the time limit and makes finished episodes absorbing.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.base import Env


def _canonical(tree):
    """Every leaf as a strongly typed array, so reset and step states have identical types
    (gymnax builds some fields from Python ints and bools)."""
    return jax.tree.map(lambda x: jnp.array(x, dtype=jnp.asarray(x).dtype), tree)


class GymnaxEnv(Env):
    """Wraps a gymnax environment (by its gymnax id) as a glasszero `Env`.

    Subclasses set `gymnax_id`, `name`, `feature_names` and write `_features`.
    The observation is gymnax's, as float32 (MinAtar: [10, 10, C] channels).
    """

    gymnax_id: str
    max_steps = 1000

    def __init__(self, max_steps: int | None = None):
        import gymnax  # late import: gymnax is only needed for these envs

        if max_steps is not None:
            self.max_steps = int(max_steps)
        self.gymnax_env, params = gymnax.make(self.gymnax_id)
        # The base class cuts episodes at max_steps; gymnax's own limit must never fire first.
        self.gymnax_params = params.replace(max_steps_in_episode=self.max_steps + 1)
        self.num_actions = int(self.gymnax_env.num_actions)
        self.observation_shape = tuple(self.gymnax_env.obs_shape)

    def _reset(self, key):
        _, state = self.gymnax_env.reset_env(key, self.gymnax_params)
        return _canonical(state)

    def _step(self, inner, action, key):
        _, state, reward, done, _ = self.gymnax_env.step_env(key, inner, action, self.gymnax_params)
        return _canonical(state), jnp.asarray(reward, jnp.float32), jnp.asarray(done, bool)

    def _observation(self, inner):
        return self.gymnax_env.get_obs(inner).astype(jnp.float32)


class BreakoutMinAtar(GymnaxEnv):
    """MinAtar Breakout (gymnax "Breakout-MinAtar"): a paddle, a ball and three rows of bricks.

    Actions (3): no-op, left, right. Reward +1 per brick broken; the episode ends when
    the ball passes the paddle (or after `max_steps`, 1000).
    Observation [10, 10, 4] float32: channels paddle, ball, ball trail, bricks.
    Features [5] float32: paddle_x, ball_x, ball_y, ball_direction (0-3, gymnax's code),
    bricks_left.
    """

    name = "breakout-minatar"
    gymnax_id = "Breakout-MinAtar"
    feature_names = ("paddle_x", "ball_x", "ball_y", "ball_direction", "bricks_left")

    def _features(self, inner):
        return jnp.stack([inner.pos, inner.ball_x, inner.ball_y, inner.ball_dir,
                          jnp.sum(inner.brick_map)]).astype(jnp.float32)
