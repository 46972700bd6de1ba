"""Environments stepped on the host with the gymnasium API, as `gymnasium:<id>`.

    env = envs.make("gymnasium:Acrobot-v1")   # a HostEnv: shapes and names, no JAX reset/step
    vec = env.vector(seeds=[0, 1, 2, 3])      # four copies, reset with those seeds
    obs = vec.reset()                         # [4, *observation_shape] float32
    step = vec.step(actions)                  # HostStep of [4, ...] numpy arrays

The agent reads a host env through: name, num_actions, observation_shape, observation_dtype,
feature_names, num_features, max_steps, features(observations), vector(seeds, training) -> an object
with reset() and step(actions) -> HostStep (HostEnv here, envs.atari.AtariEnv for Atari).

Any id in gymnasium's registry with a `Discrete` action space and a `Box` observation space
works, including ids a user registers (`gymnasium.register`). The agent's search and learner
stay jitted; only `env.step` runs in Python (agent/host/host_env_loop.py drives it).

Autoreset: the vector env runs gymnasium's SAME_STEP mode, so the observation returned for an
env whose episode just ended is already the first of its next episode, and the one it ended
on is handed back separately (`HostStep.final_observation`, from gymnasium's
`info["final_obs"]`). Replay keeps it beside the step that ended the episode, exactly as for
the JAX envs, so the last observation of an episode is never taken for the first of the next
and a time limit (truncated) stays apart from a terminal state (terminated).

What needs the env's state inside JAX (the true-simulator model, hand values that read exact
features, value maps, `agent.tools.inspect`) is not available for host envs; they refuse
with a message (`require_jax_env`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv

PREFIX = "gymnasium:"
# The time limit given to a registered id that has none: a host env must end its episodes
# (evaluation plays whole episodes), and replay needs truncation to tell a cut from a terminal.
DEFAULT_MAX_STEPS = 10_000


def registered(gym_id: str) -> bool:
    """Whether gymnasium's registry knows `gym_id` (user registrations included)."""
    return gym_id in gymnasium.registry


class HostStep(NamedTuple):
    """One step of a vector of host envs ([N, ...] numpy arrays).

    observation: float32 [N, *obs], what each env shows now: the first observation of the next
      episode where one just ended. reward: float32 [N]. terminated, truncated: bool [N], never both
      (a terminal step at the time limit is terminated).
    final_observation: float32 [N, *obs], the observation each step led to (where an episode
      ended: its last one; elsewhere equal to `observation`).
    """

    observation: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_observation: np.ndarray


class HostVector:
    """N gymnasium envs of one id, stepped together in one process (gymnasium's SyncVectorEnv)."""

    def __init__(self, env: HostEnv, seeds: Sequence[int]):
        self.env = env
        self.seeds = [int(s) for s in seeds]
        self.vector = SyncVectorEnv([env.make_one for _ in self.seeds], autoreset_mode=AutoresetMode.SAME_STEP)

    def __len__(self) -> int:
        return len(self.seeds)

    def reset(self) -> np.ndarray:
        """[N, *obs] float32 first observations, env i reset with seeds[i]."""
        obs, _ = self.vector.reset(seed=self.seeds)
        return np.asarray(obs, np.float32)

    def step(self, actions: np.ndarray) -> HostStep:
        """Steps every env with actions [N] (0 .. num_actions - 1)."""
        obs, reward, terminated, truncated, info = self.vector.step(np.asarray(actions) + self.env.action_start)
        obs = np.asarray(obs, np.float32)
        final = obs.copy()
        if "final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final[i] = np.asarray(info["final_obs"][i], np.float32)
        terminated = np.asarray(terminated, bool)
        # gymnasium's TimeLimit sets both flags when the terminal step is also the last allowed one;
        # here, as for the JAX envs, a terminal state is terminal and only a cut is truncated.
        truncated = np.asarray(truncated, bool) & ~terminated
        return HostStep(observation=obs, reward=np.asarray(reward, np.float32), terminated=terminated,
                        truncated=truncated, final_observation=final)

    def close(self) -> None:
        self.vector.close()


class HostEnv:
    """A gymnasium env by id, described with the attributes the agent reads from a JAX `Env`
    (name, num_actions, observation_shape, feature_names, num_features, max_steps).

    The features are the observation, flattened (named obs_0, obs_1, ...). `max_steps` is the
    id's registered time limit, or `max_steps` if given, or DEFAULT_MAX_STEPS when the id has
    none (gymnasium's TimeLimit then cuts the episodes there, as truncation).
    """

    host = True  # stepped on the host: no jittable reset/step
    observation_dtype = np.float32
    mirror = None  # a symmetry (envs.base.Mirror); envs.make sets it for ids that have one

    def __init__(self, gym_id: str, max_steps: int | None = None, **make_kwargs):
        if not registered(gym_id):
            raise ValueError(f"{PREFIX}{gym_id}: gymnasium has no env registered under {gym_id!r} (register it with "
                             f"gymnasium.register(id=..., entry_point=...) before making it here)")
        self.gym_id = gym_id
        self.name = f"{PREFIX}{gym_id}"
        spec = gymnasium.spec(gym_id)
        self.max_steps = int(max_steps or spec.max_episode_steps or DEFAULT_MAX_STEPS)
        self.make_kwargs = dict(make_kwargs)
        probe = self.make_one()
        try:
            action_space, observation_space = probe.action_space, probe.observation_space
        finally:
            probe.close()
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(  # noqa: TRY004 -- the env the user named is the bad value
                f"{self.name} has a {type(action_space).__name__} action space; glasszero's search plans "
                f"over discrete actions (gymnasium.spaces.Discrete). Try a discrete id such as "
                f"gymnasium:CartPole-v1 or gymnasium:Acrobot-v1.")
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(  # noqa: TRY004 -- the env the user named is the bad value
                f"{self.name} has a {type(observation_space).__name__} observation space; host envs need "
                f"a Box (an array observation). Wrap the env, e.g. with "
                f"gymnasium.wrappers.FlattenObservation, and register the wrapped one.")
        self.num_actions = int(action_space.n)
        self.action_start = int(action_space.start)
        self.observation_shape = tuple(int(d) for d in observation_space.shape)
        self.feature_names = tuple(f"obs_{i}" for i in range(int(np.prod(self.observation_shape))))

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    def make_one(self) -> gymnasium.Env:
        """One gymnasium env of this id, cut at `max_steps` (truncated)."""
        return gymnasium.make(self.gym_id, max_episode_steps=self.max_steps, **self.make_kwargs)

    def features(self, observation: np.ndarray) -> np.ndarray:
        """[N, *obs] -> [N, F] float32: the observation, flattened."""
        return np.asarray(observation, np.float32).reshape(len(observation), -1)

    def vector(self, seeds: Sequence[int], training: bool = True) -> HostVector:
        """len(seeds) envs stepped together; env i is reset with seeds[i]. (`training`: the same envs
        either way here; Atari's training envs clip rewards and end episodes at a lost life.)"""
        del training
        return HostVector(self, seeds)

    def __repr__(self) -> str:
        return (f"HostEnv(name={self.name!r}, num_actions={self.num_actions}, "
                f"observation_shape={self.observation_shape}, max_steps={self.max_steps})")


def is_host_env(env) -> bool:
    """Whether `env` steps on the host (a HostEnv) rather than in JAX."""
    return getattr(env, "host", False)


def require_jax_env(env, what: str) -> None:
    """Raises a clear error when `what` (e.g. "--model simulator") needs a JAX env's state and
    `env` is a host env."""
    if is_host_env(env):
        raise ValueError(f"{what} needs the env's state inside JAX (the true simulator, exact features), which "
                         f"{env.name} does not give: it steps on the host. Use a JAX env (cartpole, gymnax:<id>, "
                         f"...; python train.py --list-envs) if there is one for this task.")
