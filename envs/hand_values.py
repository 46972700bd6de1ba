"""Hand-specified value functions, one state's features [F] -> a scalar.

These are plain functions of an env's documented `features(state)`, so they
work on the true simulator (exact features) and on a learned world model (its
feature decoder's output) alike. `search.FeatureValue(fn)` turns one into a
ValueFn; `hand_values(env_name)` lists what ships for an env.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from envs.cartpole import THETA_LIMIT, X_LIMIT
from envs.registry import canonical_name


def cartpole_upright(features: jax.Array, discount: float = 0.997) -> jax.Array:
    """CartPole: the return of balancing forever, 1 / (1 - discount), scaled by how safe the state is.

    features = (x, x_dot, theta, theta_dot). The penalty grows with the squared
    pole angle (as a fraction of the 12-degree limit), cart offset (fraction of
    the 2.4 m limit), and both velocities; the value is (1 - penalty) / (1 -
    discount), floored at 0. It is never negative, so falling (after which every
    value is 0) is always worse than staying up: the search keeps the pole
    balanced and the cart near the middle, which is what earns CartPole's reward.
    Its scale matches the discounted return of the reward of 1 per step, so the
    search weighs it consistently against the rewards it adds up (plan with the
    same discount).
    """
    x, x_dot, theta, theta_dot = features[0], features[1], features[2], features[3]
    penalty = ((theta / THETA_LIMIT) ** 2 + 0.5 * (x / X_LIMIT) ** 2
               + 0.05 * theta_dot**2 + 0.02 * x_dot**2)
    return jnp.clip(1.0 - penalty, 0.0, 1.0) / (1.0 - discount)


def chain_toward_goal(features: jax.Array, discount: float = 0.99) -> jax.Array:
    """Chain: the optimal value of a cell, discount^(distance_to_goal - 1).

    features = (position, distance_to_goal). Walking right from a cell d steps
    from the goal earns reward 1 on the d-th step, worth discount^(d - 1) now;
    the coin (0.1) is never worth more. At the goal itself (d = 0) the episode is
    over and nothing more is earned.
    """
    distance = features[1]
    return jnp.where(distance > 0, discount ** (distance - 1.0), 0.0)


def chain_toward_wall(features: jax.Array) -> jax.Array:
    """Chain: prefers cells near the wall (cell 0), 1 / (1 + position).

    A deliberately *wrong* value for the chain, useful to see the agent's
    choices flip when the objective is swapped.
    """
    return 1.0 / (1.0 + features[0])


def grid_to_goal(features: jax.Array, discount: float = 0.95) -> jax.Array:
    """Gridworlds: the optimal value of a square, discount^(goal_distance - 1) (0 on the goal).

    features = envs.gridworlds.FEATURE_NAMES; goal_distance is the shortest-path step
    count to the goal, so walking it earns the reward of 1 on that many-th step. Plan
    with the same discount as this value's (the gridworld presets use 0.95).
    """
    distance = features[4]
    return jnp.where(distance > 0, discount ** (distance - 1.0), 0.0)


def grid_to_goal_manhattan(features: jax.Array, discount: float = 0.95) -> jax.Array:
    """Gridworlds: discount^(Manhattan distance to the goal - 1), from the positions alone.

    Ignores walls, so it can lead into a dead end; it reads only the agent's and the
    goal's squares, a check on whether a decoder that misjudges distances still
    locates the goal.
    """
    distance = jnp.abs(features[0] - features[2]) + jnp.abs(features[1] - features[3])
    return jnp.where(distance > 0, discount ** (distance - 1.0), 0.0)


def grid_to_proxy(features: jax.Array, discount: float = 0.95) -> jax.Array:
    """Gridworlds: the *proxy* objective written down, discount^proxy_distance.

    What a misgeneralized learned value looks like when it learned "go right" or
    "go to the corner": useful to compare an agent against.
    """
    return discount ** features[5]


_GRID_VALUES = {"to_goal": grid_to_goal, "to_goal_manhattan": grid_to_goal_manhattan, "to_proxy": grid_to_proxy}

_HAND_VALUES: dict[str, dict[str, Callable[[jax.Array], jax.Array]]] = {
    "cartpole": {"upright": cartpole_upright},
    "chain": {"toward_goal": chain_toward_goal, "toward_wall": chain_toward_wall},
    "coin_at_end": dict(_GRID_VALUES),
    "cheese_in_corner": dict(_GRID_VALUES),
}


def hand_values(env_name: str) -> dict[str, Callable[[jax.Array], jax.Array]]:
    """The hand-specified value functions shipped for an env (name -> fn)."""
    return dict(_HAND_VALUES.get(canonical_name(env_name), {}))


def register_hand_value(env_name: str, name: str, fn: Callable[[jax.Array], jax.Array]) -> None:
    """Adds a user's hand value so `--value NAME` finds it."""
    _HAND_VALUES.setdefault(canonical_name(env_name), {})[name] = fn
