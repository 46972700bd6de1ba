"""Any discrete gymnax env trains as `gymnax:<id>`: it conforms, keeps its observation's shape,
keeps the time limit apart from termination, and a continuous one is refused saying why."""
import dataclasses

import gymnax
import jax
import jax.numpy as jnp
import pytest
from gymnax.environments import spaces

import envs
import train as train_cli
from agent.host.run import train
from envs.gymnax_env import DISCRETE_IDS, NEEDS_DOWNLOAD, UNSUPPORTED
from tests.conftest import TINY

# The classic-control envs and the four MinAtar games the project supports by name.
CHECKED = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar",
           "SpaceInvaders-MinAtar"]


@pytest.mark.parametrize("gymnax_id", CHECKED)
def test_gymnax_env_passes_check_env_and_keeps_its_observation_shape(gymnax_id):
    env = envs.make(f"gymnax:{gymnax_id}", max_steps=200)
    envs.check_env(env)
    native, params = gymnax.make(gymnax_id)
    assert env.observation_shape == tuple(native.observation_space(params).shape)
    assert env.num_features == len(env.feature_names) == int(jnp.prod(jnp.array(env.observation_shape)))


@pytest.mark.parametrize("gymnax_id", [i for i in DISCRETE_IDS if i not in CHECKED])
def test_every_other_listed_discrete_gymnax_env_passes_check_env(gymnax_id):
    env = envs.make(f"gymnax:{gymnax_id}", max_steps=50)
    envs.check_env(env)
    assert len(env.observation_shape) in (1, 3)  # what the networks take: a vector or an image [H, W, C]


@pytest.mark.parametrize("gymnax_id", sorted(UNSUPPORTED))
def test_an_unsupported_gymnax_env_is_refused_saying_why(gymnax_id):
    with pytest.raises(ValueError, match=f"not supported: {UNSUPPORTED[gymnax_id][:20]}"):
        envs.make(f"gymnax:{gymnax_id}")


def test_the_list_of_discrete_ids_is_gymnax_s_own():
    discrete = []
    for gymnax_id in gymnax.registered_envs:
        if gymnax_id in NEEDS_DOWNLOAD or gymnax_id in UNSUPPORTED:
            continue
        native, params = gymnax.make(gymnax_id)
        if isinstance(native.action_space(params), spaces.Discrete):
            discrete.append(gymnax_id)
    assert tuple(discrete) == DISCRETE_IDS


def test_the_time_limit_truncates_and_does_not_terminate():
    env = envs.make("gymnax:Acrobot-v1", max_steps=5)
    state, ts = env.reset(jax.random.PRNGKey(0))
    for _ in range(5):
        state, ts = env.step(state, jnp.int32(1))
    assert bool(ts.truncated) and not bool(ts.terminated)
    assert envs.make("gymnax:Acrobot-v1").max_steps == 500  # gymnax's own limit by default


def test_a_continuous_gymnax_env_is_refused_saying_why(capsys):
    with pytest.raises(ValueError, match="continuous action space.*discrete actions"):
        envs.make("gymnax:Pendulum-v1")
    assert train_cli.main(["--env", "gymnax:Pendulum-v1"]) == 2
    err = capsys.readouterr().err
    assert "--env 'gymnax:Pendulum-v1' is invalid" in err and "continuous" in err and "Traceback" not in err
    assert train_cli.main(["--list-envs"]) == 0
    assert "gymnax:<id>" in capsys.readouterr().out


def test_a_gymnax_env_trains(tmp_path):
    config = dataclasses.replace(TINY, env="gymnax:Acrobot-v1", out=str(tmp_path / "run"))
    result = train(config, quiet=True, max_iterations=5)  # updates start once each env holds 8 rows
    assert result.env_steps == 5 * TINY.env_steps_per_iteration and result.updates > 0
