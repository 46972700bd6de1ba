"""A device-resident circular replay buffer of transitions, one stream per env.

A small buffer of our own rather than flashbax: the learner samples *windows*
of K + n + 1 consecutive steps of one env stream (for the unroll and the n-step
targets), with episode ends inside the window handled by the targets; that is
a dozen lines of indexing here, and it keeps the dependency list short.

Layout: every field is [C, E, ...] (time-major ring of capacity C, E envs).
Row i of stream e holds the transition taken from observation i:

    observation [O], action [], reward [] (of that action), terminated [],
    truncated [] (the action ended the episode), policy [A] (search weights),
    search_value [], features [F]

After an episode ends, the next row of the stream is the reset observation of
the next episode.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


class Transition(NamedTuple):
    """One step of every env: each field has a leading [E] axis."""

    observation: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    policy: jax.Array
    search_value: jax.Array
    features: jax.Array


@struct.dataclass
class Replay:
    """data: Transition of [C, E, ...] arrays; inserted: [] int32 rows written so far."""

    data: Transition
    inserted: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.action.shape[0]

    @property
    def num_envs(self) -> int:
        return self.data.action.shape[1]


def init(example: Transition, capacity: int) -> Replay:
    """An empty buffer shaped like `example` (one step of all envs, [E, ...])."""
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), example)
    return Replay(data=data, inserted=jnp.zeros((), jnp.int32))


def add(replay: Replay, step: Transition) -> Replay:
    """Writes one step of all envs ([E, ...]) over the oldest row."""
    row = replay.inserted % replay.capacity
    data = jax.tree.map(lambda buf, x: buf.at[row].set(x), replay.data, step)
    return Replay(data=data, inserted=replay.inserted + 1)


def size(replay: Replay) -> jax.Array:
    """[] int32: rows currently held per stream."""
    return jnp.minimum(replay.inserted, replay.capacity)


def sample_windows(replay: Replay, key: jax.Array, batch: int, length: int) -> tuple[Transition, jax.Array]:
    """Samples `batch` windows of `length` consecutive rows, uniformly over start rows
    whose whole window is written.

    Returns (windows with fields [batch, length, ...], start age [batch] int32:
    how many rows ago the window's first row was written).
    """
    stream_key, start_key = jax.random.split(key)
    held = size(replay)
    oldest = replay.inserted - held
    num_starts = jnp.maximum(held - length + 1, 1)
    start = oldest + jax.random.randint(start_key, (batch,), 0, num_starts)  # chronological index
    stream = jax.random.randint(stream_key, (batch,), 0, replay.num_envs)
    rows = (start[:, None] + jnp.arange(length)[None, :]) % replay.capacity  # [batch, length]
    windows = jax.tree.map(lambda buf: buf[rows, stream[:, None]], replay.data)
    age = replay.inserted - 1 - start
    return windows, age
