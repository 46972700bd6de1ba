"""Data parallelism over the local devices: one mesh axis, "data".

The parallel envs (and so the replay's env streams) and the learner's batch are split over
the devices; parameters, optimiser state, keys and counters are replicated. Every jitted
function keeps its single-device code: `jax.jit` with these NamedShardings lets XLA's SPMD
partitioner split the work and insert the collectives (the gradient mean becomes an
all-reduce), so a run computes the same numbers on 1, 2 or 4 devices up to the order of
float sums. (Not `pmap`, which JAX keeps in maintenance mode; not `shard_map`, which would
make every function spell out its collectives.)

Leaf layouts of a run's TrainState (every leaf has the seed axis S first):
    env_state, timestep, episode_return   [S, E, ...]       split on E
    replay.data, replay.priority          [S, C, E, ...]    split on E (one stream per env)
    everything else                       replicated
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"


def make_mesh(devices: int) -> Mesh:
    """A one-axis mesh over the first `devices` local devices (at most jax.local_device_count()); in a
    multi-process run (agent/host/distributed.py) over every device of every process."""
    if jax.process_count() > 1:
        return Mesh(np.array(jax.devices()), (AXIS,))
    return Mesh(np.array(jax.local_devices()[:devices]), (AXIS,))


def state_shardings(mesh: Mesh, state: Any) -> Any:
    """NamedShardings shaped like a TrainState (or its abstract eval_shape)."""
    replicated = NamedSharding(mesh, P())
    env_axis_1 = NamedSharding(mesh, P(None, AXIS))  # [S, E, ...]
    env_axis_2 = NamedSharding(mesh, P(None, None, AXIS))  # [S, C, E, ...]

    def every(tree, sharding):
        return jax.tree.map(lambda _: sharding, tree)

    replay = state.replay
    return state.replace(
        learner=every(state.learner, replicated),
        env_state=every(state.env_state, env_axis_1),
        timestep=every(state.timestep, env_axis_1),
        episode_return=env_axis_1,
        replay=replay.replace(data=every(replay.data, env_axis_2), priority=env_axis_2,
                              inserted=replicated, max_priority=replicated),
        key=replicated, env_steps=replicated, episodes=replicated, owed_updates=replicated,
    )


def shard_batch(tree: Any, mesh: Mesh | None) -> Any:
    """Splits the leading (batch) axis of every leaf over the mesh inside a jitted function
    (a hint to the partitioner; a no-op without a mesh or with one device)."""
    if mesh is None or mesh.size == 1:
        return tree
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, P(AXIS)))


def host_value(x) -> np.ndarray:
    """A device array as numpy: the array itself when this process holds all of it, else (a replicated
    array spanning other processes' devices, agent/host/distributed.py) this process's copy of it."""
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    return np.asarray(x.addressable_data(0))
