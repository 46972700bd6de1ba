"""Any discrete gymnasium env trains as `gymnasium:<id>` through the host loop (envs/host.py,
agent/host/host_env_loop.py): the episode ends stay right in replay, a user's own registered env
trains, a resumed run cuts its episodes in progress, what needs a JAX env is refused saying why,
and gymnasium's CartPole-v1 learns as the JAX CartPole does."""
import dataclasses

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import envs
import train as train_cli
from agent.algorithm.iteration import seed_slice
from agent.config import preset
from agent.host.records import read_metrics, rows_by_seed
from agent.host.run import train
from agent.objectives import make_objective
from agent.tools.evaluate import evaluate_run
from agent.tools.inspect import inspect_run
from tests.conftest import TINY

GOAL, LIMIT = 3, 5
CORRIDOR = "glasszero-test/Corridor-v0"


class Corridor(gymnasium.Env):
    """Walk right (action 1) from 0 to GOAL: reward 1 and terminated there; action 0 stays put.
    Observation [position, 1]. Registered with a LIMIT-step time limit (truncated)."""

    observation_space = spaces.Box(-10.0, 10.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self._obs(), {}

    def step(self, action):
        self.position += int(action)
        terminated = self.position >= GOAL
        return self._obs(), float(terminated), terminated, False, {}

    def _obs(self):
        return np.array([self.position, 1.0], np.float32)


gymnasium.register(id=CORRIDOR, entry_point=Corridor, max_episode_steps=LIMIT)
CORRIDOR_CONFIG = dataclasses.replace(TINY, env=f"gymnasium:{CORRIDOR}", seeds=2)


def test_host_vector_hands_back_the_final_observation_apart_from_the_next_first():
    vector = envs.make(f"gymnasium:{CORRIDOR}").vector(seeds=[0, 1])
    vector.reset()
    for _ in range(GOAL - 1):
        step = vector.step(np.array([1, 0]))
    step = vector.step(np.array([1, 0]))  # env 0 reaches the goal; env 1 has stayed for GOAL steps
    assert step.terminated.tolist() == [True, False] and step.reward.tolist() == [1.0, 0.0]
    assert step.final_observation[0, 0] == GOAL and step.observation[0, 0] == 0  # next episode's first
    for _ in range(LIMIT - GOAL):
        step = vector.step(np.array([0, 0]))
    assert step.truncated.tolist() == [False, True] and not step.terminated[1]  # the time limit, not terminal
    np.testing.assert_array_equal(step.final_observation[1], step.observation[1])  # both at position 0
    vector.close()


@pytest.fixture(scope="module")
def corridor_run(tmp_path_factory):
    """A 2-seed run on the Corridor (one compile for the tests that read a finished host run)."""
    config = dataclasses.replace(CORRIDOR_CONFIG, out=str(tmp_path_factory.mktemp("corridor") / "run"))
    return config, train(config, quiet=True)


def test_a_registered_gymnasium_env_trains_and_its_replay_keeps_episodes_apart(corridor_run):
    config, result = corridor_run
    assert result.env_steps == config.total_env_steps and result.updates > 0
    rows = read_metrics(result.run_dir)
    assert {r["seed"] for r in rows} == {0, 1} and all(np.isfinite(r["loss"]) for r in rows)
    assert sum(r["episodes_finished"] for r in rows) > 0
    for seed in range(2):
        data = seed_slice(result.state.replay, seed).data
        held = int(result.state.replay.inserted[seed])
        obs, final = np.asarray(data.observation[:held]), np.asarray(data.final_observation[:held])
        terminated, truncated = np.asarray(data.terminated[:held]), np.asarray(data.truncated[:held])
        assert not (terminated & truncated).any()
        assert (final[terminated][:, 0] == GOAL).all()  # a terminal step keeps where it ended
        done = terminated | truncated
        # Where an episode goes on, the next row starts where this step led; where it ended, the next
        # row is the next episode's first observation (position 0), never the final one.
        np.testing.assert_array_equal(final[:-1][~done[:-1]], obs[1:][~done[:-1]])
        assert (obs[1:][done[:-1]][:, 0] == 0).all()


def test_a_resumed_host_run_cuts_the_episodes_it_was_in(tmp_path):
    config = dataclasses.replace(CORRIDOR_CONFIG, out=str(tmp_path / "run"), checkpoint_every_env_steps=10_000)
    stopped = train(config, quiet=True, max_iterations=3)
    rows_at_stop = stopped.env_steps // config.num_envs
    result = train(resume=tmp_path / "run", quiet=True, max_iterations=2)
    truncated = np.asarray(result.state.replay.data.truncated)  # [S, C, E]
    assert truncated[:, rows_at_stop - 1, :].all()  # the last step before the restart ends its episode
    assert result.env_steps == stopped.env_steps + 2 * config.env_steps_per_iteration


def test_what_needs_a_jax_env_is_refused_for_host_envs(corridor_run, capsys):
    with pytest.raises(ValueError, match="unknown value 'upright'"):
        make_objective("gymnasium:CartPole-v1", "upright")
    with pytest.raises(ValueError, match="Box action space; glasszero's search plans over discrete actions"):
        envs.make("gymnasium:Pendulum-v1")
    assert train_cli.main(["--env", "gymnasium:NoSuchEnv-v0"]) == 2
    assert "gymnasium:<id> with any discrete gymnasium id" in capsys.readouterr().err
    run = corridor_run[1].run_dir
    assert evaluate_run(run, episodes=2, num_simulations=2).shape == (2,)  # the learned model: fine
    # A hand value on the feature decoder's output (the observation here) needs no env state: fine too.
    envs.register_hand_value(f"gymnasium:{CORRIDOR}", "position", lambda features: features[..., 0])
    assert evaluate_run(run, value="position", episodes=2, num_simulations=2).shape == (2,)
    with pytest.raises(ValueError, match="--model simulator needs the env's state inside JAX"):
        evaluate_run(run, model="simulator", episodes=2)
    with pytest.raises(ValueError, match="agent.tools.inspect .* needs the env's state inside JAX"):
        inspect_run(run)


# The learning bar of tests/test_learning.py (four vmapped seeds of the CartPole preset, 1,000 env steps,
# a 20-episode evaluation every 250), on gymnasium's CartPole-v1 through the host loop: the same median
# threshold, 120 (where it comes from and its margin: tests/test_learning.py). The host env's starts are
# other draws than the JAX env's, as a fresh machine's numerics are. On this project's 2-core CPU the
# seeds' best evaluations here were 458, 500, 447 and 500 (median 479, 4.0x the threshold; measured with
# the preset as it is now, observation noise, the mirror and target copies every update included; with
# the noise and the mirror 332, 500, 431 and 356, with the noise alone 473, 500, 166 and 363). The
# per-seed floor, 40, is lower than the JAX test's 60: with the preset before observation noise a seed
# here reached only 76 within 750 env steps. 40 is twice what a policy that ignores the state keeps up
# (~20) and 4x under the weakest seed seen with any preset since (166). The bests come from
# `python -m benchmarks.learning_test_bests`.
PER_SEED, MEDIAN = 40.0, 120.0


def test_gymnasium_cartpole_through_the_host_loop_learns_as_the_jax_cartpole(tmp_path):
    base = preset("gymnasium:CartPole-v1")
    config = dataclasses.replace(
        base, seed=0, seeds=4, total_env_steps=1_000, out=str(tmp_path / "run"), checkpoint_every_env_steps=1_000,
        eval=dataclasses.replace(base.eval, episodes=20, every_env_steps=250, stop_at_return=None))
    assert dataclasses.replace(config, env="cartpole") == dataclasses.replace(
        preset("cartpole"), seed=0, seeds=4, total_env_steps=1_000, out=str(tmp_path / "run"), eval_on_gymnasium=False,
        checkpoint_every_env_steps=1_000, eval=config.eval)  # the JAX test's config, on the host env
    train(config, quiet=True)
    best = {seed: max(r["eval_return_mean"] for r in rows if r.get("eval_return_mean") is not None)
            for seed, rows in rows_by_seed(read_metrics(tmp_path / "run")).items()}
    assert sorted(best) == [0, 1, 2, 3]
    assert min(best.values()) >= PER_SEED, best
    assert float(np.median(list(best.values()))) >= MEDIAN, best
