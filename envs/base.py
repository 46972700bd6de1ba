"""The environment interface every glasszero env follows.

An env is a set of pure functions over an immutable `State`:

    state, ts = env.reset(key)            # key: PRNG key
    state, ts = env.step(state, action)   # action: int32 scalar
    f = env.features(state)               # [F] float32, named by env.feature_names

All three are jit- and vmap-able. The `Env` base class holds the invariants once
(as pgx does), so a subclass only writes the dynamics:

* the episode is cut (``truncated``) after ``max_steps`` steps;
* once an episode is over (terminated or truncated) the state is *absorbing*:
  further steps change nothing, give reward 0 and repeat the flags. This is what
  makes the true simulator safe to use inside a search tree, which happily
  expands actions past the end of an episode;
* randomness during an episode comes from a key carried in the state, so a run
  is a deterministic function of the reset key and the actions.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


class TimeStep(NamedTuple):
    """What the agent sees after a reset or a step (unbatched shapes).

    observation: [*observation_shape] float32.
    reward: [] float32, the reward of the step that led here (0 after reset).
    terminated: [] bool, the episode reached a terminal state (value 0 beyond).
    truncated: [] bool, the episode was cut by the time limit (not terminal).
    action_mask: [A] bool, True where an action is legal in this state.
    """

    observation: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    action_mask: jax.Array

    @property
    def done(self) -> jax.Array:
        """[] bool: the episode is over, whichever way."""
        return jnp.logical_or(self.terminated, self.truncated)


@struct.dataclass
class State:
    """An env state: the env's own `inner` state plus the bookkeeping of the base.

    inner: the subclass's pytree.
    step_count: [] int32, steps taken since reset.
    terminated, truncated: [] bool, sticky once set.
    key: PRNG key for the env's randomness during the episode.
    """

    inner: Any
    step_count: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    key: jax.Array

    @property
    def done(self) -> jax.Array:
        return jnp.logical_or(self.terminated, self.truncated)


class ValueMap(NamedTuple):
    """A 2-D slice of states to draw an objective's value over (rows top to bottom).

    states: State with leading [rows, cols] axes. open: [rows, cols] bool, the cells that are
    states at all (False: a wall). x, y: the column and row coordinates (labels). marks:
    ((row, col, label), ...) cells to label, e.g. the goal.
    """

    states: Any
    open: jax.Array
    x_label: str
    y_label: str
    x: tuple
    y: tuple
    marks: tuple = ()


class Mirror(NamedTuple):
    """A symmetry of an env's dynamics: mirror a state and swap the actions, and the mirrored
    episode is as likely, with the same rewards (so the same values). Entries are plain tuples, so
    that a config that uses it stays hashable (static under jit).

    observation_sign: [*observation_shape] flattened, +1 or -1 per entry (the mirrored observation
      is observation x sign). feature_sign: [F] the same for the features.
    action_permutation: [A], the mirror image of action a is action_permutation[a].
    """

    observation_sign: tuple[float, ...]
    feature_sign: tuple[float, ...]
    action_permutation: tuple[int, ...]


class Env:
    """Base class: subclasses set the class attributes and the `_` methods.

    Class attributes a subclass sets:
      name: the registry name.
      num_actions: A, the size of the discrete action space.
      observation_shape: shape of one observation.
      feature_names: names of the F interpretable features `features` returns.
      max_steps: time limit; the step that reaches it is `truncated`.
      mirror: a Mirror symmetry of the dynamics, or None (LossConfig.mirror trains on it).
    """

    name: str = "env"
    num_actions: int
    observation_shape: tuple[int, ...]
    feature_names: tuple[str, ...]
    max_steps: int
    mirror: Mirror | None = None

    # --- what a subclass writes -------------------------------------------------
    def _reset(self, key: jax.Array) -> Any:
        """Returns the inner state at the start of an episode."""
        raise NotImplementedError

    def _step(self, inner: Any, action: jax.Array, key: jax.Array) -> tuple[Any, jax.Array, jax.Array]:
        """Returns (next inner state, reward [] float32, terminated [] bool)."""
        raise NotImplementedError

    def _observation(self, inner: Any) -> jax.Array:
        """Returns the observation [*observation_shape] float32."""
        raise NotImplementedError

    def _features(self, inner: Any) -> jax.Array:
        """Returns the interpretable features [F] float32."""
        raise NotImplementedError

    def _action_mask(self, inner: Any) -> jax.Array:
        """Returns [A] bool legal actions; all legal unless overridden."""
        return jnp.ones((self.num_actions,), dtype=bool)

    # --- the public, pure interface -------------------------------------------
    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    def reset(self, key: jax.Array) -> tuple[State, TimeStep]:
        reset_key, episode_key = jax.random.split(key)
        inner = self._reset(reset_key)
        false = jnp.zeros((), dtype=bool)
        state = State(inner=inner, step_count=jnp.zeros((), jnp.int32),
                      terminated=false, truncated=false, key=episode_key)
        return state, self._timestep(state, jnp.zeros((), jnp.float32))

    def step(self, state: State, action: jax.Array) -> tuple[State, TimeStep]:
        action = jnp.asarray(action, jnp.int32)
        key, step_key = jax.random.split(state.key)
        inner, reward, terminated = self._step(state.inner, action, step_key)
        step_count = state.step_count + 1
        stepped = State(
            inner=inner,
            step_count=step_count,
            terminated=terminated.astype(bool),
            truncated=jnp.logical_and(~terminated.astype(bool), step_count >= self.max_steps),
            key=key,
        )
        # Absorbing once done: keep the old state, no reward, same flags.
        was_done = state.done
        next_state = jax.tree.map(lambda old, new: jnp.where(was_done, old, new), state, stepped)
        reward = jnp.where(was_done, 0.0, jnp.asarray(reward, jnp.float32))
        return next_state, self._timestep(next_state, reward)

    def features(self, state: State) -> jax.Array:
        """[F] float32 interpretable facts of the state, named by `feature_names`."""
        return jnp.asarray(self._features(state.inner), jnp.float32)

    def observation(self, state: State) -> jax.Array:
        return jnp.asarray(self._observation(state.inner), jnp.float32)

    def action_mask(self, state: State) -> jax.Array:
        return self._action_mask(state.inner)

    def value_map(self, state: State) -> ValueMap | None:
        """A 2-D slice of states around `state` to draw values over (agent.tools.inspect draws the
        learned and the hand value on it), or None: an env without one gets no value map."""
        del state
        return None

    def _timestep(self, state: State, reward: jax.Array) -> TimeStep:
        return TimeStep(
            observation=self.observation(state),
            reward=reward,
            terminated=state.terminated,
            truncated=state.truncated,
            action_mask=self.action_mask(state),
        )

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, num_actions={self.num_actions}, "
                f"observation_shape={self.observation_shape}, max_steps={self.max_steps})")
