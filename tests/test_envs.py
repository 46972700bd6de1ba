"""The env interface: conformance of every registered env, and errors that say what to fix."""
import subprocess
import sys
from pathlib import Path

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.base import Env


@pytest.mark.parametrize("name", envs.names())
def test_registered_envs_pass_check_env(name):
    envs.check_env(envs.make(name))


class IntObservationEnv(envs.CartPole):
    """Broken on purpose: its observation is int32, not float32."""

    def observation(self, state):
        return state.inner.astype(jnp.int32)


class NeverEndsEnv(Env):
    """Broken on purpose: ignores the base class and never reports the end."""

    name = "never_ends"
    num_actions = 2
    observation_shape = (1,)
    feature_names = ("t",)
    max_steps = 3

    def _reset(self, key):
        return jnp.zeros(())

    def _step(self, inner, action, key):
        return inner + 1, jnp.float32(0), jnp.zeros((), bool)

    def _observation(self, inner):
        return inner[None]

    def _features(self, inner):
        return inner[None]

    def step(self, state, action):  # bypasses the base's time limit
        inner, reward, _terminated = self._step(state.inner, action, state.key)
        state = state.replace(inner=inner)
        return state, self._timestep(state, reward)


def test_check_env_names_the_dtype_problem():
    with pytest.raises(envs.EnvCheckError, match="observation dtype int32, expected float32"):
        envs.check_env(IntObservationEnv())


def test_check_env_catches_an_episode_that_never_ends():
    with pytest.raises(envs.EnvCheckError, match="did not end within max_steps=3"):
        envs.check_env(NeverEndsEnv())


def test_unknown_env_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown env 'cartpol'.*valid names: bandit, breakout-minatar, cartpole, "
                                         "chain, cheese_in_corner, coin_at_end"):
        envs.make("cartpol")


def test_checking_a_valid_env_name_does_not_import_ale_py():
    # The list of valid names asks ale-py for its games; a machine without ale-py (a GPU image) must
    # still train the JAX envs, and no run should pay for the import.
    code = ("import sys; from agent.config import preset, validate; validate(preset('breakout-minatar')); "
            "print('ale_py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_steps_after_the_end_are_absorbing():
    env = envs.make("chain", length=3, start=0)
    state, _ = env.reset(jax.random.PRNGKey(0))
    state, ts = env.step(state, 2)  # take the coin
    assert bool(ts.terminated) and float(ts.reward) == pytest.approx(0.1)
    state2, ts2 = env.step(state, 1)
    assert float(ts2.reward) == 0.0 and bool(ts2.terminated)
    assert int(state2.inner) == int(state.inner)


def test_cartpole_truncates_at_500():
    env = envs.make("cartpole", max_steps=4)
    state, ts = env.reset(jax.random.PRNGKey(0))
    for action in (0, 1, 0, 1):
        state, ts = env.step(state, action)
    assert bool(ts.truncated) and not bool(ts.terminated)
    assert envs.make("cartpole").max_steps == 500


def test_cartpoles_mirror_is_a_symmetry_of_its_dynamics():
    """The mirror image of a step is the step of the mirror image (what loss.mirror relies on)."""
    env = envs.make("cartpole")
    sign = jnp.asarray(env.mirror.observation_sign)
    states = jax.random.uniform(jax.random.PRNGKey(0), (64, 4), minval=-0.5, maxval=0.5)
    actions = jax.random.randint(jax.random.PRNGKey(1), (64,), 0, 2)
    state, _ = env.reset(jax.random.PRNGKey(2))
    step = jax.vmap(lambda inner, action: env.step(state.replace(inner=inner), action)[1])
    stepped, mirrored = step(states, actions), step(states * sign, jnp.asarray(env.mirror.action_permutation)[actions])
    np.testing.assert_allclose(mirrored.observation, stepped.observation * sign, atol=1e-6)
    np.testing.assert_array_equal(mirrored.reward, stepped.reward)
    np.testing.assert_array_equal(mirrored.terminated, stepped.terminated)
    assert bool(stepped.terminated.any()) and not bool(stepped.terminated.all())  # both kinds of step checked
    # gymnasium's and gymnax's CartPole-v1 observe the same four variables: the same symmetry.
    assert envs.make("gymnasium:CartPole-v1").mirror == envs.make("gymnax:CartPole-v1").mirror == env.mirror
    assert envs.make("gymnax:Acrobot-v1").mirror is None and envs.make("chain").mirror is None


def test_cartpole_matches_gymnasium_dynamics():
    """Same start state and actions -> the same trajectory as gymnasium's CartPole-v1."""
    env = envs.make("cartpole")
    gym_env = gymnasium.make("CartPole-v1")
    gym_obs, _ = gym_env.reset(seed=0)
    state, ts = env.reset(jax.random.PRNGKey(0))
    state = state.replace(inner=jnp.asarray(gym_obs, jnp.float32))
    step = jax.jit(env.step)
    rng = np.random.default_rng(0)
    for t in range(200):
        action = int(rng.integers(2)) if t % 3 else int(gym_obs[2] > 0)
        gym_obs, gym_reward, gym_term, gym_trunc, _ = gym_env.step(action)
        state, ts = step(state, action)
        np.testing.assert_allclose(np.asarray(ts.observation), gym_obs, atol=1e-4)
        assert float(ts.reward) == gym_reward
        assert bool(ts.terminated) == gym_term and bool(ts.truncated) == gym_trunc
        if gym_term or gym_trunc:
            break
    assert t > 5
