"""CartPole-v1 in JAX, with gymnasium's dynamics, reward and 500-step limit.

Written out (40 lines) instead of wrapping gymnax so that the state *is* the four
physical variables, which are also the env's interpretable features.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.base import Env, Mirror, ValueMap

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
HALF_POLE_LENGTH = 0.5
POLE_MASS_LENGTH = MASS_POLE * HALF_POLE_LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds per step, explicit Euler as in gymnasium
THETA_LIMIT = 12 * 2 * jnp.pi / 360  # radians
X_LIMIT = 2.4


class CartPole(Env):
    """Balance a pole on a cart by pushing left (0) or right (1).

    Reward 1 per step (the terminating step included); terminated when
    |x| > 2.4 or |theta| > 12 degrees; truncated at 500 steps.

    Observation and features, [4] float32, the same four variables:
      x: cart position (m), x_dot: cart velocity (m/s),
      theta: pole angle from vertical (rad, positive leans right),
      theta_dot: pole angular velocity (rad/s).
    """

    name = "cartpole"
    num_actions = 2
    observation_shape = (4,)
    feature_names = ("x", "x_dot", "theta", "theta_dot")
    # Left-right: negate all four variables and swap the pushes (the force is odd in them).
    mirror = Mirror(observation_sign=(-1.0,) * 4, feature_sign=(-1.0,) * 4, action_permutation=(1, 0))

    def __init__(self, max_steps: int = 500):
        self.max_steps = int(max_steps)

    def _reset(self, key):
        return jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05)

    def value_map(self, state):
        """The pole's angle (columns) against its angular velocity (rows, fast rightward on top),
        with the cart at rest at `state`'s position; the angle spans +-0.2 rad (termination: 0.2095)."""
        thetas = jnp.linspace(-0.2, 0.2, 17)
        theta_dots = jnp.linspace(2.0, -2.0, 17)
        x = state.inner[0]
        grid = jax.vmap(lambda w: jax.vmap(lambda t: jnp.stack([x, 0.0, t, w]))(thetas))(theta_dots)
        states = jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (17, 17, *jnp.shape(leaf))), state)
        return ValueMap(states=states.replace(inner=grid), open=jnp.ones((17, 17), bool), x_label="theta (rad)",
                        y_label="theta_dot (rad/s)", x=tuple(round(float(t), 3) for t in thetas),
                        y=tuple(round(float(w), 3) for w in theta_dots))

    def _step(self, inner, action, key):
        del key  # deterministic dynamics
        x, x_dot, theta, theta_dot = inner
        force = jnp.where(action == 1, FORCE_MAG, -FORCE_MAG)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot**2 * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (
            HALF_POLE_LENGTH * (4.0 / 3.0 - MASS_POLE * cos**2 / TOTAL_MASS))
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        nxt = jnp.stack([
            x + TAU * x_dot,
            x_dot + TAU * x_acc,
            theta + TAU * theta_dot,
            theta_dot + TAU * theta_acc,
        ])
        terminated = (jnp.abs(nxt[0]) > X_LIMIT) | (jnp.abs(nxt[2]) > THETA_LIMIT)
        return nxt, jnp.float32(1.0), terminated

    def _observation(self, inner):
        return inner

    def _features(self, inner):
        return inner
