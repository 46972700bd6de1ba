"""Pixel observations: MinAtar through gymnax, the ResNet networks, augmentation, and the
efficientzero / muzero presets end to end from train.py."""
import dataclasses
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import envs
import search
from agent.algorithm.augment import random_intensity, random_shift
from agent.config import ADDITIONS, preset, with_algorithm
from networks import MuZeroResNet, NetworkConfig, make_network
from tests.conftest import ROOT, TINY_ARGS

PIXEL_CONFIG = NetworkConfig(hidden=8, channels=4, value_support=3, reward_support=2, projection=4, lstm_hidden=8,
                             value_prefix_horizon=2)


def test_breakout_minatar_conforms_and_its_features_read_the_gymnax_state():
    env = envs.make("Breakout-MinAtar")
    envs.check_env(env)
    state, ts = env.reset(jax.random.PRNGKey(0))
    assert ts.observation.shape == (10, 10, 4) and env.num_actions == 3
    features = dict(zip(env.feature_names, np.asarray(env.features(state)), strict=True))
    inner = state.inner
    assert features["paddle_x"] == int(inner.pos) and features["ball_y"] == int(inner.ball_y)
    assert features["bricks_left"] == 30  # three full rows of ten
    # The observation's paddle channel agrees with the paddle feature.
    assert np.asarray(ts.observation)[9, int(features["paddle_x"]), 0] == 1.0


def test_the_minatar_benchmarks_random_baseline_plays_whole_episodes_uniformly():
    from benchmarks.minatar_curve import random_policy_returns

    # A two-armed bandit paying the arm's index: a uniform policy earns 0.5 per episode. 2,048 episodes
    # give a standard error of 0.011, so 0.05 is a 4.5-sigma margin. The episode ends after one pull
    # although the time limit allows 3: the env's absorbing state adds nothing after it.
    returns = random_policy_returns(envs.Bandit(arm_rewards=(0.0, 1.0), max_steps=3), 2_048, jax.random.PRNGKey(0))
    assert returns.shape == (2_048,) and set(np.unique(np.asarray(returns))) == {0.0, 1.0}
    assert abs(float(returns.mean()) - 0.5) < 0.05


def test_resnet_shapes_and_zero_initialised_heads():
    net = make_network((10, 10, 4), 3, 5, PIXEL_CONFIG, rngs=nnx.Rngs(0))
    assert isinstance(net, MuZeroResNet)
    obs = jax.random.uniform(jax.random.PRNGKey(0), (2, 10, 10, 4))
    latent = net.represent(obs)
    assert latent.shape == (2, 5, 5, 4)
    assert float(latent.min()) >= 0.0 and float(latent.max()) <= 1.0
    next_latent, reward_logits = MuZeroResNet((10, 10, 4), 3, 5, dataclasses.replace(
        PIXEL_CONFIG, value_prefix_horizon=0), rngs=nnx.Rngs(0)).dynamics(latent, jnp.array([0, 2]))
    assert next_latent.shape == latent.shape and reward_logits.shape == (2, 5)
    _, (c, h), prefix_logits = net.dynamics_prefix(latent, net.initial_lstm_state(2), jnp.array([0, 2]))
    assert c.shape == h.shape == (2, 8) and prefix_logits.shape == (2, 5)
    policy, value = net.predict(latent)
    np.testing.assert_array_equal(policy, 0.0)  # uniform prior, value 0 before training
    np.testing.assert_array_equal(value, 0.0)
    assert net.decode_features(latent).shape == (2, 5)
    assert net.project(latent, with_predictor=True).shape == (2, 4)


def test_search_runs_on_pixels_with_a_value_prefix_model():
    env = envs.make("breakout-minatar")
    net = make_network(env.observation_shape, env.num_actions, env.num_features, PIXEL_CONFIG, rngs=nnx.Rngs(0))
    model, params = search.LearnedModel.from_network(net, env.observation_shape, env.num_actions)
    _, ts = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    out = search.plan(params, jax.random.PRNGKey(1), ts.observation, model=model,
                      config=search.PlannerConfig(num_simulations=4))
    assert out.action.shape == (2,) and out.action_weights.shape == (2, 3)
    assert isinstance(out.tree.embeddings, search.models.PrefixEmbedding)


def test_random_shift_moves_an_image_by_at_most_one_square_in_every_direction():
    images = jnp.zeros((400, 6, 6, 1)).at[:, 3, 2, 0].set(1.0)  # one lit square, away from the edges
    shifted = np.asarray(random_shift(jax.random.PRNGKey(0), images))
    assert shifted.shape == images.shape
    np.testing.assert_array_equal(shifted.sum(axis=(1, 2, 3)), 1.0)  # the square moves, it is not lost
    rows, cols = np.nonzero(shifted[..., 0])[1:]
    offsets = set(zip((rows - 3).tolist(), (cols - 2).tolist()))
    assert offsets == {(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}


def test_random_intensity_scales_each_image_by_a_factor_within_ten_percent():
    images = jnp.ones((256, 3, 3, 2))
    scaled = np.asarray(random_intensity(jax.random.PRNGKey(0), images))
    factors = scaled[:, 0, 0, 0]
    np.testing.assert_allclose(scaled, factors[:, None, None, None] * np.ones((1, 3, 3, 2)), rtol=1e-6)
    assert factors.min() >= 0.9 - 1e-6 and factors.max() <= 1.1 + 1e-6
    assert factors.std() > 0.02  # not a constant


def test_presets_switch_every_addition_on_or_off():
    ez = preset("breakout-minatar", "efficientzero")
    assert ez.network.value_prefix_horizon == 5 and ez.loss.consistency_weight == 2.0
    assert ez.loss.reanalyze_fraction > 0 and ez.loss.off_policy_correction and ez.replay.prioritized
    assert ez.loss.augmentation
    assert not preset("cartpole", "efficientzero").loss.augmentation  # vector observations: no augmentation
    mz = with_algorithm(ez, "muzero")
    assert (mz.network.value_prefix_horizon, mz.loss.consistency_weight, mz.loss.reanalyze_fraction,
            mz.loss.off_policy_correction, mz.replay.prioritized, mz.loss.augmentation) == (0, 0.0, 0.0, False,
                                                                                           False, False)
    assert mz == preset("breakout-minatar", "muzero")
    assert len(ADDITIONS) == 6


def test_train_py_efficientzero_on_breakout_minatar(tmp_path):
    out = tmp_path / "run"
    args = ["--env", "breakout-minatar", "--preset", "efficientzero", *TINY_ARGS, "--total-env-steps", "48",
            "--network.channels", "4", "--network.lstm-hidden", "8", "--out", str(out)]
    done = subprocess.run([sys.executable, "train.py", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["network"]["value_prefix_horizon"] == 5 and config["loss"]["augmentation"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["env_steps"] >= 48 and rows[-1]["updates"] > 0
    assert all(np.isfinite(r["loss"]) for r in rows if "loss" in r)


def test_train_py_refuses_an_unknown_preset():
    done = subprocess.run([sys.executable, "train.py", "--preset", "alphazero"], check=False, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "choose from muzero, efficientzero" in done.stderr


def test_ablation_quick_mode_runs_end_to_end(tmp_path):
    from benchmarks.ablation import Args, main, variants

    assert set(variants("cartpole")) == {"efficientzero", "muzero", *(f"efficientzero - {a}" for a in ADDITIONS
                                                                     if a != "augmentation")}
    assert "efficientzero - augmentation" in variants("breakout-minatar")
    # CartPole only: the pipeline is the same for every env, and Breakout's pixel training with every
    # EfficientZero addition is pinned by test_train_py_efficientzero_on_breakout_minatar (its two
    # extra compiles cost about 40 s: 74 s with them in a full suite run, 30 s without, run alone).
    report = main(Args(quick=True, envs=("cartpole",), out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs")))
    assert set(report["envs"]) == {"cartpole"}
    for name in ("ablation.json", "ablation.md", "ablation.png"):
        assert (tmp_path / name).stat().st_size > 0
    for env_report in report["envs"].values():
        assert set(env_report["variants"]) == {"efficientzero", "muzero"}
        for variant in env_report["variants"].values():
            assert all(np.isfinite(r["final_eval"]) for r in variant["runs"])
