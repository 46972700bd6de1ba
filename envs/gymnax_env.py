"""Any gymnax environment with discrete actions, behind glasszero's `Env` interface.

    env = envs.make("gymnax:Acrobot-v1")         # or gymnax:Asterix-MinAtar, gymnax:CartPole-v1, ...

gymnax already implements these in pure JAX; the adapter maps its `reset_env` /
`step_env` (the variants without gymnax's auto-reset) onto the base class, which then
cuts episodes at the time limit (gymnax's own `max_steps_in_episode` unless `max_steps`
is given) as *truncation*, kept apart from termination: gymnax's limit is moved one step
past ours, so gymnax's `done` only ever means a terminal state. Observations keep their
shape (vectors stay vectors, MinAtar's [10, 10, C] stay images) as float32; the features
are the observation, flattened, unless a subclass names better ones (BreakoutMinAtar). A 2-D grid
observation (Catch, DeepSea) gets a channel axis, an image [H, W, 1]. UNSUPPORTED names the ids that cannot be wrapped, and why.
"""
from __future__ import annotations

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from envs.base import Env

PREFIX = "gymnax:"


def _canonical(tree):
    """Every leaf as a strongly typed array, so reset and step states have identical types
    (gymnax builds some fields from Python ints and bools)."""
    return jax.tree.map(lambda x: jnp.array(x, dtype=jnp.asarray(x).dtype), tree)


# gymnax's ids with a discrete action space, as of gymnax 1.0 (tests/test_gymnax_envs.py checks the
# list against gymnax itself). Listed rather than computed: building every gymnax env takes seconds,
# and MNISTBandit-bsuite (left out) downloads MNIST when it is built.
DISCRETE_IDS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Asterix-MinAtar", "Breakout-MinAtar",
                "Freeway-MinAtar", "Seaquest-MinAtar", "SpaceInvaders-MinAtar", "Catch-bsuite", "DeepSea-bsuite",
                "MemoryChain-bsuite", "DiscountingChain-bsuite", "SimpleBandit-bsuite",
                "FourRooms-misc", "MetaMaze-misc", "BernoulliBandit-misc", "GaussianBandit-misc", "Pong-misc")
NEEDS_DOWNLOAD = ("MNISTBandit-bsuite",)
# Discrete gymnax ids that cannot follow the Env interface, and why.
UNSUPPORTED = {
    "UmbrellaChain-bsuite": "its observation draws fresh noise at every get_obs call (it needs a key), while an "
                            "Env's observation is a function of the state",
    "FrozenLake-misc": "gymnax 1.0 does not implement get_obs for it (the observation of a state)",
}


class GymnaxEnv(Env):
    """A gymnax environment by its gymnax id (e.g. "Acrobot-v1", "Asterix-MinAtar")."""

    gymnax_id: str = ""
    name = ""  # a subclass may name itself; else "gymnax:<id>"
    max_steps = 0  # a subclass may set its limit; else gymnax's max_steps_in_episode
    feature_names: tuple[str, ...] = ()  # a subclass may name better features; else the observation

    def __init__(self, gymnax_id: str | None = None, max_steps: int | None = None):
        self.gymnax_id = gymnax_id or self.gymnax_id
        if self.gymnax_id in UNSUPPORTED:
            raise ValueError(f"{PREFIX}{self.gymnax_id} is not supported: {UNSUPPORTED[self.gymnax_id]}")
        if self.gymnax_id not in gymnax.registered_envs or self.gymnax_id in NEEDS_DOWNLOAD:
            raise ValueError(f"gymnax id {self.gymnax_id!r} is not available here; discrete gymnax envs: "
                             f"{', '.join(DISCRETE_IDS)}")
        self.gymnax_env, params = gymnax.make(self.gymnax_id)
        space = self.gymnax_env.action_space(params)
        if not isinstance(space, spaces.Discrete):
            raise ValueError(  # noqa: TRY004 -- the env the user named is the bad value
                f"{PREFIX}{self.gymnax_id} has a continuous action space ({type(space).__name__}); "
                f"glasszero's search plans over discrete actions. Discrete gymnax envs: "
                f"{', '.join(DISCRETE_IDS)}")
        self.name = type(self).name or f"{PREFIX}{self.gymnax_id}"
        self.max_steps = int(max_steps if max_steps is not None else type(self).max_steps or params.max_steps_in_episode)
        # The base class cuts episodes at max_steps; gymnax's own limit must never fire first.
        self.gymnax_params = params.replace(max_steps_in_episode=self.max_steps + 1)
        self.num_actions = int(space.n)
        # Read off a real observation: some gymnax observation_space()s fail for other params (BernoulliBandit).
        raw = jax.eval_shape(lambda key: self.gymnax_env.reset_env(key, self.gymnax_params)[0], jax.random.PRNGKey(0))
        # A 2-D grid (Catch, DeepSea) becomes a one-channel image [H, W, 1]: the networks take vectors or images.
        self.observation_shape = (*raw.shape, 1) if len(raw.shape) == 2 else tuple(raw.shape)
        if not type(self).feature_names:
            self.feature_names = tuple(f"obs_{i}" for i in range(int(np.prod(self.observation_shape))))

    def _reset(self, key):
        _, state = self.gymnax_env.reset_env(key, self.gymnax_params)
        return _canonical(state)

    def _step(self, inner, action, key):
        _, state, reward, done, _ = self.gymnax_env.step_env(key, inner, action, self.gymnax_params)
        return _canonical(state), jnp.asarray(reward, jnp.float32), jnp.asarray(done, bool)

    def _observation(self, inner):
        obs = self.gymnax_env.get_obs(inner, self.gymnax_params)
        return obs.astype(jnp.float32).reshape(self.observation_shape)

    def _features(self, inner):
        return self._observation(inner).reshape(-1)
