"""MinAtar Breakout with named features (the other MinAtar games: `gymnax:<Game>-MinAtar`)."""
from __future__ import annotations

import jax.numpy as jnp

from envs.gymnax_env import GymnaxEnv


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
    max_steps = 1000
    feature_names = ("paddle_x", "ball_x", "ball_y", "ball_direction", "bricks_left")

    def __init__(self, max_steps: int | None = None):
        super().__init__(max_steps=max_steps)

    def _features(self, inner):
        return jnp.stack([inner.pos, inner.ball_x, inner.ball_y, inner.ball_dir,
                          jnp.sum(inner.brick_map)]).astype(jnp.float32)
