"""Atari through ale-py (`atari:<Game>`, envs/atari.py), on real ROMs: the preprocessing's shapes and
frame stack, training's reward clipping and life-loss ends against evaluation's raw whole games,
the same games through ale-py's XLA interface inside jit, the atari100k preset, and a game stepping
through the agent's training loop both ways (inside the jitted iteration, and on the host)."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agent.config import ConfigError, preset, validate
from agent.host.records import read_metrics
from agent.host.run import train
from networks.config import NetworkConfig
from tests.conftest import TINY


def test_observations_are_a_cleared_stack_of_four_96x96_gray_frames():
    env = envs.make("atari:Breakout", max_frames=400)  # games cut at 100 agent steps
    assert env.observation_shape == (96, 96, 4) and env.num_actions == 4  # the minimal action set
    vector = env.vector(seeds=[0, 1], training=False)  # whole games: only game over or the cap ends one
    obs = vector.reset()
    assert obs.shape == (2, 96, 96, 4) and obs.dtype == np.uint8
    assert not obs[..., :3].any() and obs[..., 3].any()  # a new game: only its first frame in the stack
    rng = np.random.default_rng(0)
    for _ in range(env.max_steps):
        previous = obs
        step = vector.step(rng.integers(0, env.num_actions, 2))
        obs = step.observation
        done = step.terminated | step.truncated
        # The stack moves by one frame per step; the final observation continues the old game.
        np.testing.assert_array_equal(step.final_observation[..., :3], previous[..., 1:])
        if done.any():
            break
    assert step.truncated.all() and not step.terminated.any()  # the frame cap is a time limit
    assert not obs[..., :3].any()  # the next game starts with a cleared stack, not the old frames
    assert (step.final_observation != obs).any()
    assert env.features(obs).shape == (2, 64)
    vector.close()


def test_training_clips_rewards_and_ends_episodes_at_a_lost_life_evaluation_plays_raw_whole_games():
    env = envs.make("atari:SpaceInvaders", max_frames=2_000)
    training, evaluation = env.vector(seeds=[5], training=True), env.vector(seeds=[5], training=False)
    np.testing.assert_array_equal(training.reset(), evaluation.reset())
    rng = np.random.default_rng(0)
    raw, clipped, life_ends, game_ends = [], [], 0, 0
    for _ in range(env.max_steps):
        action = rng.integers(0, env.num_actions, 1)
        train_step, eval_step = training.step(action), evaluation.step(action)
        # The same game underneath (no sticky actions, seeded no-op starts): only the rules differ.
        np.testing.assert_array_equal(train_step.observation, eval_step.observation)
        raw.append(eval_step.reward[0])
        clipped.append(train_step.reward[0])
        if train_step.terminated[0] and not eval_step.terminated[0]:
            life_ends += 1  # a lost life: an end for the learner, while the game (and its frames) go on
            np.testing.assert_array_equal(train_step.observation, train_step.final_observation)
        if eval_step.terminated[0] or eval_step.truncated[0]:
            game_ends += 1
            break
    raw, clipped = np.array(raw), np.array(clipped)
    assert raw.max() > 1  # invaders are worth 5-30 points
    np.testing.assert_array_equal(clipped, np.sign(raw))
    assert life_ends >= 1 and game_ends == 1  # lives lost before the game ended, all one evaluation episode


@pytest.mark.parametrize(("game", "seeds", "max_frames", "end"), [
    ("SpaceInvaders", [3, 4], 600, "time limit"),  # both games cut at step 150, lives lost before
    ("Breakout", [5], 108_000, "game over"),  # this game's last life goes at step 123 (random play)
])
def test_the_xla_interface_plays_the_same_games_inside_jit_and_marks_its_restarts(game, seeds, max_frames, end):
    env = envs.make(f"atari:{game}", max_frames=max_frames)
    host, xla = env.vector(seeds=seeds, training=True), env.xla_vector(seeds=seeds, training=True)
    games, obs = xla.reset()
    np.testing.assert_array_equal(host.reset(), obs)
    step = jax.jit(xla.step)
    rng = np.random.default_rng(0)
    life_ends, restarts, host_step, ended = 0, 0, None, None
    for _ in range(400):
        action = rng.integers(0, env.num_actions, len(seeds))
        games, xla_step = step(games, jnp.asarray(action, jnp.int32))
        xla_step = jax.tree.map(np.asarray, xla_step)
        if xla_step.restarted.any():
            # NEXT_STEP: the step after the end only starts the next games, which the host loop's SAME_STEP
            # vector showed at the end itself; no reward, no end, and the new game's lives.
            assert xla_step.restarted.all()
            np.testing.assert_array_equal(xla_step.observation, host_step.observation)
            assert not xla_step.reward.any() and not (xla_step.terminated | xla_step.truncated).any()
            assert (np.asarray(games.lives) == host.lives).all()
            restarts += 1
            continue
        host_step = host.step(action)
        # The step's own observation: the game's last frames where it ended (kept until the restart).
        np.testing.assert_array_equal(xla_step.observation, host_step.final_observation)
        for field in ("reward", "terminated", "truncated"):  # clipped rewards, life-loss ends, the time limit
            np.testing.assert_array_equal(getattr(xla_step, field), getattr(host_step, field), err_msg=field)
        if (host_step.truncated | (host.lives > np.asarray(games.lives))).any():
            ended = "time limit" if host_step.truncated.any() else "game over"  # the host's new game has more lives
        life_ends += int((host_step.terminated & ~host_step.truncated).sum())
        if restarts:
            break
    assert ended == end and restarts == 1 and life_ends >= 1  # the checks above saw the end, a restart, a lost life
    host.close()
    xla.close()


def test_the_atari100k_preset_and_unknown_games():
    config = preset("atari:Pong")
    assert config.env == "atari:Pong" and config.total_env_steps == 100_000
    assert config.network.downsample == 4 and config.network.channels == 64 and config.planner.num_simulations == 50
    assert config.loss.td_steps == 5 and config.loss.augmentation and config.loss.consistency_weight == 2.0
    assert config.replay.capacity_per_env * config.num_envs == 100_000  # replay holds the whole run
    with pytest.raises(ValueError, match="unknown env 'atari:NoSuchGame'"):
        envs.make("atari:NoSuchGame")


@pytest.mark.parametrize("stepping", ["xla", "host"])
def test_an_atari_game_trains_through_the_agent_loop_and_resumes(tmp_path, stepping):
    config = dataclasses.replace(
        TINY, env="atari:Breakout", env_kwargs={"max_frames": 80}, total_env_steps=48, seeds=2,
        out=str(tmp_path / "run"), env_stepping=stepping,  # games cut at 20 agent steps; 24 steps per env
        network=NetworkConfig(hidden=8, latent=8, layers=1, channels=4, blocks=1, downsample=4, value_support=5,
                              reward_support=2),
        replay=dataclasses.replace(TINY.replay, min_size_per_env=5),  # one window: learning from iteration 3
        eval=dataclasses.replace(TINY.eval, every_env_steps=48))
    train(config, quiet=True, max_iterations=1)  # stopped after 2 steps per env, then resumed: fresh games
    result = train(resume=tmp_path / "run", quiet=True)
    rows = read_metrics(tmp_path / "run")
    assert rows[0]["env_stepping"] == {"xla": "ale-py XLA (AtariXlaVector, inside the jitted iteration)",
                                       "host": "host loop (AtariVector)"}[stepping]
    assert result.updates > 0 and all(np.isfinite(r["loss"]) for r in rows)
    assert result.final_eval_mean is not None and np.isfinite(result.final_eval_mean)
    for seed in range(2):
        data = jax.tree.map(lambda x, seed=seed: np.asarray(x[seed]), result.state.replay.data)  # [rows, envs, ...]
        assert data.observation.dtype == np.uint8  # frames kept as bytes
        assert data.truncated[1].all()  # the resume cut the games in progress after their 2nd step
        assert not data.truncated[2:21].any() and data.truncated[21].all()  # the new games cut at their 20th step
        if stepping == "xla":  # the restart step's row repeats the cut's row; the next game's first step follows
            for field in ("observation", "action", "truncated", "final_observation", "policy"):
                np.testing.assert_array_equal(getattr(data, field)[22], getattr(data, field)[21], err_msg=field)
            assert not data.truncated[23].any() and not data.observation[23, ..., :3].any()  # a fresh stack
        else:
            assert not data.truncated[22].any() and not data.observation[22, ..., :3].any()


def test_env_stepping_is_for_atari_games_only():
    with pytest.raises(ConfigError, match="--env-stepping 'xla' is invalid: chooses how Atari games step"):
        validate(dataclasses.replace(preset("cartpole"), env_stepping="xla"))
    validate(dataclasses.replace(preset("atari:Pong"), env_stepping="host"))
