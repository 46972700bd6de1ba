"""The objective: what the search maximises, as one explicit, swappable object.

    Objective = reward source (RewardFn) + leaf evaluator (ValueFn) + discount

The planner never reads the network's value or reward directly; it asks the
objective. The default objective is the learned heads (`LearnedValue`,
`ModelReward`); a hand-written function of the state's features
(`FeatureValue`) plugs into the same seam.

A ValueFn maps a batch of leaves to values:   value_fn(leaf: Leaf) -> [B]
A RewardFn maps a batch of edges to rewards:  reward_fn(edge: Edge) -> [B]
Each declares what it reads (`needs_features`, `needs_learned_value`) so the
planner computes features (a decoder call) only when someone reads them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp


class Leaf(NamedTuple):
    """A batch of search nodes to be valued.

    embedding: the world model's state for the nodes (a pytree, leading dim B).
    features: [B, F] float32 features of the nodes (decoded or exact), or None
      when no part of the objective asked for them.
    learned_value: [B] float32, the world model's value head, or None when the
      model has no value head (the true simulator).
    """

    embedding: Any
    features: jax.Array | None
    learned_value: jax.Array | None


class Edge(NamedTuple):
    """A batch of expanded edges (parent --action--> child) to be rewarded.

    model_reward: [B] float32, the reward the world model predicts (or the env's
      true reward under the simulator).
    next_features: [B, F] features of the child, or None if nobody asked.
    """

    model_reward: jax.Array
    next_features: jax.Array | None


@runtime_checkable
class ValueFn(Protocol):
    """Values a batch of leaves: `__call__(leaf) -> [B]` float32."""

    needs_features: bool
    needs_learned_value: bool

    def __call__(self, leaf: Leaf) -> jax.Array: ...


@runtime_checkable
class RewardFn(Protocol):
    """Rewards a batch of edges: `__call__(edge) -> [B]` float32."""

    needs_features: bool

    def __call__(self, edge: Edge) -> jax.Array: ...


# --- value functions -----------------------------------------------------------

@dataclass(frozen=True)
class LearnedValue:
    """The world model's value head: v(s) as trained from n-step returns."""

    needs_features: bool = field(default=False, init=False)
    needs_learned_value: bool = field(default=True, init=False)

    def __call__(self, leaf: Leaf) -> jax.Array:
        return leaf.learned_value

    def __str__(self) -> str:
        return "LearnedValue(value head)"


@dataclass(frozen=True)
class FeatureValue:
    """A hand-specified value: `fn(features [F]) -> scalar`, applied per node.

    `fn` sees one node's features (named by the env's `feature_names`) and is
    vmapped over the batch, so it is written for a single state.
    """

    fn: Callable[[jax.Array], jax.Array]
    name: str = ""
    needs_features: bool = field(default=True, init=False)
    needs_learned_value: bool = field(default=False, init=False)

    def __call__(self, leaf: Leaf) -> jax.Array:
        return jax.vmap(self.fn)(leaf.features)

    def __str__(self) -> str:
        return f"FeatureValue({self.name or getattr(self.fn, '__name__', 'fn')})"


@dataclass(frozen=True)
class Constant:
    """Every leaf is worth `value`: the search then adds up rewards alone."""

    value: float = 0.0
    needs_features: bool = field(default=False, init=False)
    needs_learned_value: bool = field(default=False, init=False)

    def __call__(self, leaf: Leaf) -> jax.Array:
        batch = jax.tree.leaves(leaf.embedding)[0].shape[0]
        return jnp.full((batch,), self.value, jnp.float32)

    def __str__(self) -> str:
        return f"Constant({self.value:g})"


@dataclass(frozen=True)
class Blend:
    """(1 - weight) * first + weight * second: weight 0 is `first`, 1 is `second`."""

    first: Any
    second: Any
    weight: float = 0.5

    @property
    def needs_features(self) -> bool:
        return self.first.needs_features or self.second.needs_features

    @property
    def needs_learned_value(self) -> bool:
        return self.first.needs_learned_value or self.second.needs_learned_value

    def __call__(self, leaf: Leaf) -> jax.Array:
        return (1.0 - self.weight) * self.first(leaf) + self.weight * self.second(leaf)

    def __str__(self) -> str:
        return f"Blend({1 - self.weight:g} x {self.first} + {self.weight:g} x {self.second})"


# --- reward functions ----------------------------------------------------------

@dataclass(frozen=True)
class ModelReward:
    """The reward the world model predicts (the true reward under the simulator)."""

    needs_features: bool = field(default=False, init=False)

    def __call__(self, edge: Edge) -> jax.Array:
        return edge.model_reward

    def __str__(self) -> str:
        return "ModelReward"


@dataclass(frozen=True)
class FeatureReward:
    """A hand-specified reward of the child's features: `fn(features [F]) -> scalar`."""

    fn: Callable[[jax.Array], jax.Array]
    name: str = ""
    needs_features: bool = field(default=True, init=False)

    def __call__(self, edge: Edge) -> jax.Array:
        return jax.vmap(self.fn)(edge.next_features)

    def __str__(self) -> str:
        return f"FeatureReward({self.name or getattr(self.fn, '__name__', 'fn')})"


# --- the objective ---------------------------------------------------------------

@dataclass(frozen=True)
class Objective:
    """What the search maximises: sum_k discount^k reward_k + discount^n value(leaf)."""

    value: Any = LearnedValue()
    reward: Any = ModelReward()
    discount: float = 0.997

    def __post_init__(self):
        for name, proto in (("value", ValueFn), ("reward", RewardFn)):
            obj = getattr(self, name)
            if not callable(obj) or not isinstance(obj, proto):
                raise TypeError(
                    f"Objective.{name} must be a {proto.__name__} (a callable with "
                    f"{'needs_features and needs_learned_value' if name == 'value' else 'needs_features'} "
                    f"attributes), got {obj!r}; wrap a plain function of features in "
                    f"{'FeatureValue' if name == 'value' else 'FeatureReward'}(fn)")
        if not 0.0 <= self.discount <= 1.0:
            raise ValueError(f"Objective.discount must be in [0, 1], got {self.discount}")

    @property
    def needs_features(self) -> bool:
        return bool(self.value.needs_features or self.reward.needs_features)

    @property
    def needs_learned_value(self) -> bool:
        return bool(self.value.needs_learned_value)

    def __str__(self) -> str:
        return f"Objective(reward={self.reward}, value={self.value}, discount={self.discount:g})"


def call_value_fn(value_fn: Any, leaf: Leaf, batch: int) -> jax.Array:
    """Calls a ValueFn and checks its output is [B] numeric, with an error naming the fix."""
    out = value_fn(leaf)
    return _check_batch_output(out, batch, f"ValueFn {value_fn}")


def call_reward_fn(reward_fn: Any, edge: Edge, batch: int) -> jax.Array:
    """Calls a RewardFn and checks its output is [B] numeric."""
    out = reward_fn(edge)
    return _check_batch_output(out, batch, f"RewardFn {reward_fn}")


def _check_batch_output(out: Any, batch: int, who: str) -> jax.Array:
    if out is None:
        raise ValueError(f"{who} returned None; it must return one value per node, shape ({batch},)")
    out = jnp.asarray(out)
    if out.shape != (batch,):
        hint = " (a FeatureValue fn gets one state's features [F] and must return a scalar)" \
            if out.ndim != 1 else ""
        raise ValueError(f"{who} returned shape {out.shape}; expected ({batch},), one value per node{hint}")
    if not (jnp.issubdtype(out.dtype, jnp.floating) or jnp.issubdtype(out.dtype, jnp.integer)):
        raise ValueError(f"{who} returned dtype {out.dtype}; expected a float")
    return out.astype(jnp.float32)
