"""Tiny deterministic envs whose optimal behaviour is known, for tests and demos."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.base import Env

LEFT, RIGHT, TAKE = 0, 1, 2


class Chain(Env):
    """A 1-D corridor of `length` cells; the agent starts in cell `start` (1).

    Actions: 0 = left, 1 = right, 2 = take the small coin.
      * left is illegal in cell 0 (a wall); take is legal only in cell 0;
      * take: reward `small_reward` (0.1) and the episode ends;
      * reaching the last cell: reward 1 and the episode ends.
    With discount 0.99 the optimal policy is "always right": the goal is
    `length - 1 - start` steps away and worth 1, the coin is `start + 1` steps
    away and worth 0.1. No reward is seen before the end, so a search must look
    `length - 1 - start` steps ahead to tell left from right.

    Observation [length] float32: one-hot position.
    Features [2] float32: position (cell index), distance_to_goal (cells).
    """

    name = "chain"
    num_actions = 3
    feature_names = ("position", "distance_to_goal")

    def __init__(self, length: int = 5, start: int = 1, small_reward: float = 0.1, max_steps: int = 20):
        if length < 2:
            raise ValueError(f"Chain length must be >= 2, got {length}")
        if not 0 <= start < length - 1:
            raise ValueError(f"Chain start must be in [0, length - 2] = [0, {length - 2}], got {start}")
        self.length = int(length)
        self.start = int(start)
        self.small_reward = float(small_reward)
        self.max_steps = int(max_steps)
        self.observation_shape = (self.length,)

    def _reset(self, key):
        del key
        return jnp.full((), self.start, jnp.int32)

    def _step(self, inner, action, key):
        del key
        take = (action == TAKE) & (inner == 0)
        move = jnp.where(action == RIGHT, 1, jnp.where(action == LEFT, -1, 0))
        pos = jnp.clip(inner + move, 0, self.length - 1)
        at_goal = pos == self.length - 1
        reward = jnp.where(at_goal, 1.0, jnp.where(take, self.small_reward, 0.0))
        return pos, reward.astype(jnp.float32), at_goal | take

    def _observation(self, inner):
        return jax.nn.one_hot(inner, self.length, dtype=jnp.float32)

    def _features(self, inner):
        return jnp.stack([inner, self.length - 1 - inner]).astype(jnp.float32)

    def _action_mask(self, inner):
        at_wall = inner == 0
        return jnp.stack([~at_wall, jnp.ones((), bool), at_wall])


class Bandit(Env):
    """A one-step multi-armed bandit: pull arm `a`, get `arm_rewards[a]`, done.

    Observation [1] float32: always 0 (one state). Features [1]: steps taken.
    The best arm is argmax(arm_rewards).
    """

    name = "bandit"
    observation_shape = (1,)
    feature_names = ("steps_taken",)

    def __init__(self, arm_rewards: tuple[float, ...] = (0.2, 0.5, 0.1, 0.9, 0.4, 0.3), max_steps: int = 1):
        self.arm_rewards = tuple(float(r) for r in arm_rewards)
        self.num_actions = len(self.arm_rewards)
        self.max_steps = int(max_steps)

    def _reset(self, key):
        del key
        return jnp.zeros((), jnp.int32)

    def _step(self, inner, action, key):
        del key
        reward = jnp.asarray(self.arm_rewards, jnp.float32)[action]
        return inner + 1, reward, jnp.ones((), bool)

    def _observation(self, inner):
        return jnp.zeros((1,), jnp.float32)

    def _features(self, inner):
        return inner.astype(jnp.float32)[None]
