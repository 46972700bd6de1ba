"""Atari through ale-py (`atari:<Game>`, envs/atari.py), on real ROMs: the preprocessing's shapes and
frame stack, training's reward clipping and life-loss ends against evaluation's raw whole games,
the atari100k preset, and a game stepping through the agent's training loop."""
import dataclasses

import numpy as np
import pytest

import envs
from agent.config import preset
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


def test_the_atari100k_preset_and_unknown_games():
    config = preset("atari:Pong")
    assert config.env == "atari:Pong" and config.total_env_steps == 100_000
    assert config.network.downsample == 4 and config.network.channels == 64 and config.planner.num_simulations == 50
    assert config.loss.td_steps == 5 and config.loss.augmentation and config.loss.consistency_weight == 2.0
    assert config.replay.capacity_per_env * config.num_envs == 100_000  # replay holds the whole run
    with pytest.raises(ValueError, match="unknown env 'atari:NoSuchGame'"):
        envs.make("atari:NoSuchGame")


def test_an_atari_game_trains_through_the_agent_loop(tmp_path):
    config = dataclasses.replace(
        TINY, env="atari:Breakout", env_kwargs={"max_frames": 80}, total_env_steps=24, out=str(tmp_path / "run"),
        network=NetworkConfig(hidden=8, latent=8, layers=1, channels=4, blocks=1, downsample=4, value_support=5,
                              reward_support=2),
        replay=dataclasses.replace(TINY.replay, min_size_per_env=5),  # one window: learning from iteration 3
        eval=dataclasses.replace(TINY.eval, every_env_steps=24))
    result = train(config, quiet=True)
    rows = read_metrics(tmp_path / "run")
    assert rows[0]["env_stepping"] == "host loop (AtariVector)"
    assert result.updates > 0 and all(np.isfinite(r["loss"]) for r in rows)
    assert result.final_eval_mean is not None and np.isfinite(result.final_eval_mean)
    assert result.state.replay.data.observation.dtype == np.uint8  # frames kept as bytes
