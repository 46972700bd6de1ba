"""A device-resident circular replay buffer of transitions, one stream per env.

A small buffer of our own rather than flashbax: the learner samples *windows*
of K + n + 1 consecutive steps of one env stream (for the unroll and the n-step
targets), with episode ends inside the window handled by the targets; that is
a dozen lines of indexing here, and it keeps the dependency list short.

Layout: every field is [C, E, ...] (time-major ring of capacity C, E envs).
Row i of stream e holds the transition taken from observation i:

    observation [O], action [], reward [] (of that action), terminated [],
    truncated [] (the action ended the episode), policy [A] (search weights),
    features [F], action_mask [A], final_observation [O] (the observation the
    action led to)

After an episode ends, the next row of the stream is the reset observation of
the next episode; final_observation keeps the one it ended on, so that a value
target can bootstrap across a time limit (agent.algorithm.targets). It doubles
the observations' memory; for the vector and MinAtar envs here that is small.
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
    features: jax.Array
    action_mask: jax.Array | None = None  # [E, A] legal actions (for reanalyze's searches)
    final_observation: jax.Array | None = None  # [E, *obs] where the step led (None: not kept)
    root_value: jax.Array | None = None  # [E] the acting search's value of `observation` (kept only to bootstrap on)
    # [E] discounted reward from this step to its episode's end (or the newest row); never stored,
    # filled in by with_returns_to_go just before windows are sampled
    return_to_go: jax.Array | None = None


@struct.dataclass
class Replay:
    """data: Transition of [C, E, ...] arrays; inserted: [] int32 rows written so far;
    priority: [C, E] float32 sampling priority of each row as a window start (PER);
    max_priority: [] the largest priority seen, given to new rows."""

    data: Transition
    inserted: jax.Array
    priority: jax.Array
    max_priority: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.action.shape[0]

    @property
    def num_envs(self) -> int:
        return self.data.action.shape[1]


def init(example: Transition, capacity: int) -> Replay:
    """An empty buffer shaped like `example` (one step of all envs, [E, ...])."""
    data = jax.tree.map(lambda x: jnp.zeros((capacity, *x.shape), x.dtype), example)
    num_envs = example.action.shape[0]
    return Replay(data=data, inserted=jnp.zeros((), jnp.int32),
                  priority=jnp.ones((capacity, num_envs), jnp.float32), max_priority=jnp.ones((), jnp.float32))


def add(replay: Replay, step: Transition) -> Replay:
    """Writes one step of all envs ([E, ...]) over the oldest row."""
    row = replay.inserted % replay.capacity
    data = jax.tree.map(lambda buf, x: buf.at[row].set(x), replay.data, step)
    priority = replay.priority.at[row].set(replay.max_priority)  # new data: max priority
    return replay.replace(data=data, inserted=replay.inserted + 1, priority=priority)


def size(replay: Replay) -> jax.Array:
    """[] int32: rows currently held per stream."""
    return jnp.minimum(replay.inserted, replay.capacity)


def chronological_index(replay: Replay, rows: jax.Array) -> jax.Array:
    """Ring rows [...] -> when each was last written, counted in rows written since the start."""
    return replay.inserted - 1 - jnp.mod(replay.inserted - 1 - rows, replay.capacity)


def returns_to_go(replay: Replay, discount: float) -> jax.Array:
    """[C, E] (ring rows): each held row's discounted reward to the end of its episode, or to the
    newest row if the episode is still running,

        G_t = r_t + discount x (1 - done_t) x G_{t+1},   G past the newest row = 0.

    Computed over the whole ring in chronological order with an associative scan (log C vectorised
    steps rather than a C-step loop). Unwritten rows hold zeros and come after the newest."""
    capacity = replay.capacity
    oldest = jnp.where(replay.inserted >= capacity, replay.inserted % capacity, 0)
    order = (oldest + jnp.arange(capacity)) % capacity  # ring rows, oldest first
    data = replay.data
    done = jnp.logical_or(data.terminated, data.truncated)[order]
    carry = discount * (1.0 - done.astype(jnp.float32))  # [C, E]
    reward = data.reward[order].astype(jnp.float32)

    def combine(later, earlier):
        # (carry, value) pairs of a linear recurrence run backwards in time: G = value + carry x G_next.
        (c_late, v_late), (c_early, v_early) = later, earlier
        return c_early * c_late, v_early + c_early * v_late

    _, chronological = jax.lax.associative_scan(combine, (carry[::-1], reward[::-1]))
    return jnp.zeros_like(reward).at[order].set(chronological[::-1])


def with_returns_to_go(replay: Replay, discount: float) -> Replay:
    """The replay with return_to_go filled in (for sampling only: not kept in the learner's state)."""
    return replay.replace(data=replay.data._replace(return_to_go=returns_to_go(replay, discount)))


def gather_windows(replay: Replay, start: jax.Array, stream: jax.Array, length: int) -> Transition:
    """Windows of `length` consecutive rows from start rows [batch] (ring or chronological
    index) of the streams [batch]: a Transition of [batch, length, ...] fields."""
    rows = (start[:, None] + jnp.arange(length)[None, :]) % replay.capacity  # [batch, length]
    return jax.tree.map(lambda buf: buf[rows, stream[:, None]], replay.data)


def cut_at_head(windows: Transition, written: jax.Array) -> Transition:
    """Windows [batch, L, ...] whose first `written` [batch] rows (>= 1) are held data and whose
    later rows lie past the newest row written (ring rows of old data, or zeros): the newest row
    is marked as a time limit, so that the targets mask every later row and the n-step value of
    a window that reaches the head bootstraps on the observation its newest step led to (kept in
    final_observation), as at a real time limit (agent.algorithm.targets). A newest row that
    ended its episode is left as it is."""
    length = windows.action.shape[1]
    rows = jnp.arange(length)[None, :]
    newest = (rows == written[:, None] - 1) & (written[:, None] < length) & ~windows.terminated
    return windows._replace(truncated=windows.truncated | newest)


def _gather_from(replay: Replay, start: jax.Array, stream: jax.Array, length: int, to_head: bool) -> Transition:
    """gather_windows from chronological `start` rows [batch]; with to_head, cut where the data ends."""
    windows = gather_windows(replay, start, stream, length)
    if not to_head:
        return windows
    written = jnp.clip(replay.inserted - start, 1, length)  # rows of each window that hold data
    return cut_at_head(windows, written)


def sample_windows(replay: Replay, key: jax.Array, batch: int, length: int,
                   to_head: bool = False) -> tuple[Transition, jax.Array]:
    """Samples `batch` windows of `length` consecutive rows, uniformly over start rows
    whose whole window is written, or (to_head) over every held row, the newest included,
    with the rows past the newest cut off (cut_at_head).

    Returns (windows with fields [batch, length, ...], start age [batch] int32:
    how many rows ago the window's first row was written).
    """
    stream_key, start_key = jax.random.split(key)
    held = size(replay)
    oldest = replay.inserted - held
    num_starts = jnp.maximum(held if to_head else held - length + 1, 1)
    start = oldest + jax.random.randint(start_key, (batch,), 0, num_starts)  # chronological index
    stream = jax.random.randint(stream_key, (batch,), 0, replay.num_envs)
    windows = _gather_from(replay, start, stream, length, to_head)
    age = replay.inserted - 1 - start
    return windows, age


def valid_starts(replay: Replay, length: int, to_head: bool = False) -> jax.Array:
    """[C] bool: ring rows that can start a fully written window of `length` rows (to_head: every
    held row)."""
    chronological = chronological_index(replay, jnp.arange(replay.capacity))
    held = chronological >= replay.inserted - size(replay)
    return held if to_head else held & (chronological <= replay.inserted - length)


def prioritized_probabilities(replay: Replay, length: int, alpha: float, to_head: bool = False) -> jax.Array:
    """[C, E] P(start row, stream) = p^alpha / sum p^alpha over valid window starts."""
    valid = valid_starts(replay, length, to_head)[:, None] & jnp.ones_like(replay.priority, bool)
    scores = jnp.where(valid, replay.priority ** alpha, 0.0)
    return scores / jnp.maximum(jnp.sum(scores), 1e-12)


def sample_prioritized(replay: Replay, key: jax.Array, batch: int, length: int, alpha: float,
                       beta: jax.Array, to_head: bool = False) -> tuple[Transition, jax.Array, jax.Array, jax.Array]:
    """Prioritized replay (Schaul et al.): windows whose start is drawn with P ~ p^alpha
    (to_head: as in sample_windows).

    Returns (windows [batch, length, ...], age [batch], importance weights [batch]
    = (N P)^-beta / max over the batch, where N = number of valid starts, and
    the flat [C*E] index of each start (to update its priority)).
    """
    probs = prioritized_probabilities(replay, length, alpha, to_head)
    flat = probs.reshape(-1)
    # Inverse-CDF sampling: O(C E + B log(C E)), where a Gumbel-max draw would cost B x C x E.
    cdf = jnp.cumsum(flat)
    u = jax.random.uniform(key, (batch,)) * cdf[-1]
    index = jnp.clip(jnp.searchsorted(cdf, u, side="right"), 0, flat.shape[0] - 1)
    index = jnp.where(flat[index] > 0, index, jnp.argmax(flat))  # float edge cases: never a zero-probability row
    row, stream = index // replay.num_envs, index % replay.num_envs
    start = chronological_index(replay, row)
    windows = _gather_from(replay, start, stream, length, to_head)
    age = replay.inserted - 1 - start
    count = jnp.sum(valid_starts(replay, length, to_head)) * replay.num_envs
    weights = (count * flat[index]) ** (-beta)
    return windows, age, weights / jnp.max(weights), index


def update_priorities(replay: Replay, index: jax.Array, priority: jax.Array) -> Replay:
    """Sets the priority of flat [C*E] start indices (from sample_prioritized)."""
    flat = replay.priority.reshape(-1).at[index].set(priority)
    return replay.replace(priority=flat.reshape(replay.priority.shape),
                          max_priority=jnp.maximum(replay.max_priority, jnp.max(priority)))
