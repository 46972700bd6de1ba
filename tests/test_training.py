"""The training loop on tiny shapes: no recompilation, bad configs refused early,
NaN stops cleanly, checkpoints resume bit-exactly, and a kill saves the run."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from agent.algorithm.iteration import Agent, held_noise_key, seed_slice
from agent.algorithm.learner import (
    lookahead_values,
    make_targets,
    reanalyze_targets,
    target_values,
    update,
)
from agent.algorithm.replay import sample_windows
from agent.algorithm.targets import n_step_targets
from agent.config import (
    ConfigError,
    validate,
    with_algorithm,
)
from agent.host.checkpoint import Checkpoints
from agent.host.records import read_metrics
from agent.host.run import NonFiniteLossError, train
from agent.tools.evaluate import evaluate_run
from networks.support import logits_to_scalar
from tests.conftest import ROOT, TINY, TINY_ARGS

EFFICIENTZERO = with_algorithm(TINY, "efficientzero")  # every addition on, the value prefix included
# EfficientZero V2's mixed value target, with windows older than 4 env steps taking search values.
MIXED_VALUE = dataclasses.replace(TINY, loss=dataclasses.replace(TINY.loss, value_target="mixed", mixed_value_age=4))

# A model that plans in the observation itself, with an ensemble of two value heads (networks/mlp.py),
# learning from noisy observations (loss.observation_noise).
OBSERVATION_LATENT = dataclasses.replace(TINY, network=dataclasses.replace(TINY.network, observation_latent=True,
                                                                           value_heads=2),
                                         loss=dataclasses.replace(TINY.loss, observation_noise=0.1))


@pytest.mark.parametrize("config", [TINY, EFFICIENTZERO, MIXED_VALUE, OBSERVATION_LATENT],
                         ids=["muzero", "efficientzero", "mixed_value", "observation_latent"])
def test_iteration_compiles_once(config):
    agent = Agent(config)
    state = agent.init()
    for _ in range(4):  # the update count changes between iterations; the program does not
        state, metrics = agent.iteration(state)
    jax.block_until_ready(state)
    assert int(state.learner.updates[0]) > 0
    assert agent.iteration._cache_size() == 1
    assert np.isfinite(np.asarray(metrics["loss"])).all()
    if config.network.observation_latent:  # the regression onto the next observation is trained and logged
        assert np.isfinite(np.asarray(metrics["observation_loss"])).all()


def test_observation_noise_is_scaled_to_each_entrys_spread_over_the_batch():
    from agent.algorithm.augment import batch_scaled_noise
    observations = jax.random.normal(jax.random.key(0), (4096, 3)) * jnp.array([1.0, 0.01, 0.0])  # spreads 1, 0.01, 0
    noise = batch_scaled_noise(jax.random.key(1), observations, 0.5) - observations
    measured = np.asarray(jnp.std(noise, axis=0))
    # 4,096 draws: a standard deviation's relative error is about 1 / sqrt(2 x 4096) = 1.1%; 5% is > 4 of those.
    np.testing.assert_allclose(measured[:2], [0.5, 0.005], rtol=0.05)
    assert measured[2] == 0.0  # an entry that does not vary over the batch gets no noise


def test_the_learner_puts_observation_noise_on_the_representations_input_only():
    from agent.algorithm.learner import loss_observations
    from agent.algorithm.spec import LearnerSpec
    windows = jax.random.normal(jax.random.key(0), (8, TINY.loss.unroll_steps + 1, 4))  # [B, K+1, obs]
    noisy = loss_observations(LearnerSpec.from_config(OBSERVATION_LATENT), jax.random.key(1), windows)
    assert not np.allclose(noisy[:, 0], windows[:, 0])  # row 0 feeds the representation: noisy
    np.testing.assert_array_equal(noisy[:, 1:], windows[:, 1:])  # rows 1..K are targets: clean
    clean = loss_observations(LearnerSpec.from_config(TINY), jax.random.key(1), windows)
    np.testing.assert_array_equal(clean, windows)  # noise 0 (the default) leaves them as they are


def test_the_learner_mirrors_half_of_the_windows_whole():
    from agent.algorithm.augment import mirror_windows
    mirror = envs.make("cartpole").mirror
    batch, rows = 64, 3  # [B, K+1] with K = 2
    observations = jax.random.normal(jax.random.key(0), (batch, rows, 4))
    actions = jax.random.randint(jax.random.key(1), (batch, rows - 1), 0, 2)
    policy = jax.nn.softmax(jax.random.normal(jax.random.key(2), (batch, rows, 2)))
    features = observations + 1.0
    obs2, act2, pol2, feat2 = mirror_windows(mirror, jax.random.key(3), observations, actions, policy, features)
    flipped = np.asarray(obs2[:, 0, 0] != observations[:, 0, 0])
    assert 16 < flipped.sum() < 48  # about half (P(outside) < 1e-4 for 64 fair coins)
    for got, want_flipped, original in [(obs2, -observations, observations), (act2, 1 - actions, actions),
                                        (pol2, policy[..., ::-1], policy), (feat2, -features, features)]:
        np.testing.assert_array_equal(np.asarray(got)[flipped], np.asarray(want_flipped)[flipped])  # every row
        np.testing.assert_array_equal(np.asarray(got)[~flipped], np.asarray(original)[~flipped])


@pytest.mark.parametrize("change,field", [
    ({"replay": dataclasses.replace(TINY.replay, batch_size=-1)}, "--replay.batch-size -1"),
    ({"loss": dataclasses.replace(TINY.loss, unroll_steps=0)}, "--loss.unroll-steps 0"),
    ({"env": "pong"}, "--env 'pong'"),
    ({"max_wall_s": -5.0}, "--max-wall-s -5.0 is invalid: must be > 0"),
    ({"devices": 3}, "--num-envs 2 is invalid: must be a multiple of --devices 3"),
    ({"replay": dataclasses.replace(TINY.replay, capacity_per_env=8, batch_size=64)},
     "--replay.capacity-per-env 8.*smaller than a batch"),
    ({"replay": dataclasses.replace(TINY.replay, updates_per_episode=8.0, updates_per_episode_max_ratio=0.1)},
     "--replay.updates-per-episode-max-ratio 0.1.*whole number of updates >= 1, not 0.4"),
    ({"network": dataclasses.replace(TINY.network, value_scale=0.0)}, "--network.value-scale 0.0"),
    ({"network": dataclasses.replace(TINY.network, value_heads=0)}, "--network.value-heads 0 is invalid: must be >= 1"),
    ({"env": "breakout-minatar", "network": dataclasses.replace(TINY.network, observation_latent=True)},
     "--network.observation-latent True.*needs vector observations"),
    ({"loss": dataclasses.replace(TINY.loss, td_steps=0)}, "--loss.td-steps 0.*--loss.bootstrap lookahead"),
    ({"loss": dataclasses.replace(TINY.loss, value_target="sarsa")}, "--loss.value-target 'sarsa'.*choose from td, mixed"),
    ({"value": "upright", "loss": dataclasses.replace(TINY.loss, value_target="mixed")},
     "--loss.value-target 'mixed'.*score the hand value"),
    ({"loss": dataclasses.replace(TINY.loss, value_target="mixed", value_lower_bound=True)},
     "--loss.value-target 'mixed'.*use one of the two"),
    ({"noise_hold_steps": 0}, "--noise-hold-steps 0 is invalid: must be >= 1"),
    ({"loss": dataclasses.replace(TINY.loss, observation_noise=-0.1)}, "--loss.observation-noise -0.1 is invalid"),
    ({"env": "breakout-minatar", "loss": dataclasses.replace(TINY.loss, observation_noise=0.1)},
     "--loss.observation-noise 0.1.*image observations.*--loss.augmentation"),
    ({"env": "gymnasium:CartPole-v1", "noise_hold_steps": 5}, "--noise-hold-steps 5.*steps on the host"),
    ({"env": "chain", "loss": dataclasses.replace(TINY.loss, mirror=True)}, "--loss.mirror True.*no mirror symmetry"),
])
def test_invalid_config_names_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        validate(dataclasses.replace(TINY, **change))


def test_cli_refuses_a_bad_config_before_compiling(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "train.py", "--replay.batch-size", "-3", "--out", str(run)], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--replay.batch-size -3 is invalid: must be > 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not run.exists()  # refused before the run folder, the agent or any compile existed
    unknown = subprocess.run([sys.executable, "train.py", "--env", "pong"], check=False, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "valid names: bandit, breakout-minatar, cartpole, chain" in unknown.stderr


class NanRewardCartPole(envs.CartPole):
    """Broken on purpose: every reward is NaN, so the first learner update's loss is NaN."""

    name = "nan_cartpole"

    def _step(self, inner, action, key):
        nxt, _, terminated = super()._step(inner, action, key)
        return nxt, jnp.float32(jnp.nan), terminated


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    if "nan_cartpole" not in envs.names():
        envs.register("nan_cartpole", NanRewardCartPole)
    # No updates (so a finite loss) until the replay holds 8 rows per env: 4 iterations, checkpointed.
    config = dataclasses.replace(TINY, env="nan_cartpole", checkpoint_every_env_steps=4, out=str(tmp_path / "run"))
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at env step 16.*last good checkpoint.*\(step 12\)"):
        train(config, quiet=True)
    state, _ = Checkpoints(tmp_path / "run").restore(Agent(config).init())
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(state.learner.params))


def test_resume_continues_counters_and_loads_parameters_bit_exactly(tmp_path):
    config = dataclasses.replace(TINY, out=str(tmp_path / "run"))
    first = train(config, quiet=True, max_iterations=5)  # stops midway, saving as a kill would
    assert first.env_steps == 20 and first.env_steps < config.total_env_steps
    restored, _ = Checkpoints(tmp_path / "run").restore(Agent(config).init())
    for a, b in zip(jax.tree.leaves(first.state.learner.params), jax.tree.leaves(restored.learner.params),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(jax.tree.leaves(first.state.replay), jax.tree.leaves(restored.replay), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(restored.learner.updates[0]) == first.updates > 0
    second = train(resume=tmp_path / "run", quiet=True, max_iterations=2)
    assert second.env_steps == first.env_steps + 2 * TINY.env_steps_per_iteration
    assert second.updates > first.updates
    steps = [row["env_steps"] for row in read_metrics(tmp_path / "run")]
    assert steps == sorted(steps) and steps[-1] == second.env_steps
    assert (tmp_path / "run" / "config.json").exists()


def test_a_wall_clock_limit_ends_the_run_evaluated_and_saved_and_a_benchmark_reuses_it(tmp_path):
    from benchmarks.runs import train_or_reuse

    config = dataclasses.replace(TINY, max_wall_s=1e-3, out=str(tmp_path / "run"))  # spent by the first iteration
    result = train(config, quiet=True)
    assert result.stopped_early == "time"
    assert result.env_steps == TINY.env_steps_per_iteration < config.total_env_steps
    assert result.final_eval_mean is not None  # evaluated at the stop, not only every 1,000 steps
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["env_steps"] == result.env_steps and rows[-1]["eval_return_mean"] is not None
    checkpoints = Checkpoints(tmp_path / "run")
    assert checkpoints.latest_step() == result.env_steps
    checkpoints.close()
    train_or_reuse(config)  # stopped by its budget: reused as finished, not resumed for another iteration
    assert read_metrics(tmp_path / "run") == rows
    again = train(resume=tmp_path / "run", quiet=True)  # a resume gets the budget again: one more iteration
    assert again.stopped_early == "time" and again.env_steps == 2 * result.env_steps


def test_sigterm_saves_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "train.py", "--out", str(run), *TINY_ARGS], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 180
    while time.time() < deadline and len(read_metrics(run)) < 3:
        time.sleep(0.5)
    assert len(read_metrics(run)) >= 3, "the run never logged"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "stopped by SIGTERM" in out
    saved = Checkpoints(run).latest_step()
    assert saved is not None and 0 < saved < 4000
    resumed = train(resume=run, quiet=True, max_iterations=1)
    assert resumed.env_steps == saved + 4
    assert json.loads((run / "config.json").read_text())["total_env_steps"] == 4000


def _replay_windows(count: int):
    """A tiny trained agent, its seed-0 state, `count` sampled windows [count, K+n+1, ...] with their
    ages in rows, and their n-step targets (bootstrapped on 0)."""
    agent = Agent(TINY)
    state = agent.init()
    for _ in range(5):
        state, _ = agent.iteration(state)
    k, n = TINY.loss.unroll_steps, TINY.loss.td_steps
    state = seed_slice(state, 0)
    windows, age = sample_windows(state.replay, jax.random.PRNGKey(0), count, k + n + 1)
    targets = jax.vmap(lambda w: n_step_targets(w, jnp.zeros((k + n + 1,)), k, n, 0.997))(windows)
    return agent, state, windows, age, targets


def test_reanalyzed_policy_targets_follow_the_parameters():
    agent, state, windows, age, targets = _replay_windows(4)
    k = TINY.loss.unroll_steps
    params = state.learner.params
    other = jax.tree.map(lambda x: x + 0.5 * jax.random.normal(jax.random.PRNGKey(1), x.shape), params)
    a = reanalyze_targets(agent._reanalyze, params, jax.random.PRNGKey(2), windows, targets, age, 2, k)
    b = reanalyze_targets(agent._reanalyze, other, jax.random.PRNGKey(2), windows, targets, age, 2, k)
    assert float(jnp.abs(a.policy[:2] - b.policy[:2]).max()) > 1e-3  # new parameters, new targets
    np.testing.assert_array_equal(a.policy[2:], targets.policy[2:])  # the rest keep the stored targets
    np.testing.assert_allclose(a.policy.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(a.value, targets.value)  # without the mixed target, values are untouched


def test_mixed_value_targets_take_fresh_search_values_for_old_windows_only():
    """EfficientZero V2's mixed value target: windows older than mixed_value_age env steps learn the
    root values of fresh searches with the target parameters, at rows of their own episode only (past
    a termination the target stays 0); younger windows keep their n-step returns, and the policy
    targets stay the acting search's when no policy is reanalyzed."""
    agent, state, windows, _, targets = _replay_windows(4)
    k = TINY.loss.unroll_steps
    params, key = state.learner.params, jax.random.PRNGKey(2)
    ended = targets._replace(policy_mask=targets.policy_mask.at[0, 3:].set(0.0))  # window 0 ends after row 2
    age_env_steps = jnp.array([1000, 501, 500, 0])
    mixed = reanalyze_targets(agent._reanalyze, params, key, windows, ended, age_env_steps, 0, k, mixed_value_age=500)
    obs = windows.observation[:, :k + 1]
    _, fresh = agent._reanalyze(params, key, obs.reshape(-1, *obs.shape[2:]), None)
    fresh = fresh.reshape(4, k + 1)
    np.testing.assert_array_equal(mixed.value[0, :3], fresh[0, :3])
    np.testing.assert_array_equal(mixed.value[0, 3:], ended.value[0, 3:])
    np.testing.assert_array_equal(mixed.value[1], fresh[1])
    np.testing.assert_array_equal(mixed.value[2:], ended.value[2:])
    np.testing.assert_array_equal(mixed.policy, ended.policy)
    assert float(jnp.abs(fresh[1] - ended.value[1]).max()) > 1e-3  # the two targets differ: the test can fail


def test_update_passes_window_ages_in_env_steps_to_the_mixed_target(monkeypatch):
    """Replay rows are steps of every env at once, so `update` hands reanalyze_targets each window's
    age as rows x num_envs: the unit mixed_value_age is given in (--loss.mixed-value-age)."""
    from agent.algorithm import learner as learner_module
    agent = Agent(MIXED_VALUE)
    state = agent.init()
    for _ in range(3):  # fill some rows (the replay, not the learner, is what this test reads)
        state, _ = agent.iteration(state)
    state = seed_slice(state, 0)
    seen = {}
    real = learner_module.reanalyze_targets

    def spy(reanalyze, params, key, windows, targets, age_env_steps, *rest):
        seen["age_env_steps"] = age_env_steps
        return real(reanalyze, params, key, windows, targets, age_env_steps, *rest)

    monkeypatch.setattr(learner_module, "reanalyze_targets", spy)
    key = jax.random.PRNGKey(3)
    update(agent.graphdef, agent.tx, agent.spec, state.learner, state.replay, key, 0, agent._reanalyze)
    _, age_rows, _, _ = learner_module.sample(agent.spec, state.replay, key, 0)
    assert MIXED_VALUE.num_envs > 1 and int(age_rows.max()) > 0  # rows and env steps differ here
    np.testing.assert_array_equal(np.asarray(seen["age_env_steps"]), np.asarray(age_rows) * MIXED_VALUE.num_envs)


def test_seed_i_of_a_multi_seed_run_learns_as_its_single_seed_run():
    """Seeds are a batch axis that leaves the meaning of each seed unchanged: seed 4 trained beside
    seed 3 (one vmapped program) matches seed 4 trained alone, up to float reordering."""
    pair, alone = Agent(dataclasses.replace(TINY, seed=3, seeds=2)), Agent(dataclasses.replace(TINY, seed=4))
    pair_state, alone_state = pair.init(), alone.init()
    for _ in range(6):  # learning starts after 4 iterations (8 rows per env)
        pair_state, pair_metrics = pair.iteration(pair_state)
        alone_state, alone_metrics = alone.iteration(alone_state)
    assert int(alone_state.learner.updates[0]) > 0
    np.testing.assert_allclose(pair_metrics["loss"][1], alone_metrics["loss"][0], rtol=1e-3)
    for a, b in zip(jax.tree.leaves(seed_slice(pair_state.learner.params, 1)),
                    jax.tree.leaves(seed_slice(alone_state.learner.params, 0)), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4)
    assert float(pair_metrics["loss"][0]) != float(pair_metrics["loss"][1])  # two seeds, two runs


@pytest.mark.parametrize("max_ratio", [0.0, 0.25], ids=["uncapped", "capped"])
def test_updates_per_episode_are_counted_per_seed_and_a_seed_owing_none_stays_put(max_ratio):
    """replay.updates_per_episode: each seed runs as many updates as the episodes it finished owe it
    (here 8 per episode, no per-step ratio); with updates_per_episode_max_ratio 0.25 at most 1 per
    iteration of 4 env steps, banking at most one episode's worth. A seed that owes none in an
    iteration keeps its parameters bit-exactly while the other seed learns."""
    replay = dataclasses.replace(TINY.replay, replay_ratio=0.0, replay_ratio_start=0.0, updates_per_episode=8.0,
                                 updates_per_episode_max_ratio=max_ratio)
    agent = Agent(dataclasses.replace(TINY, seed=3, seeds=2, replay=replay))
    state = agent.init()
    seen_uneven, total, bank = False, np.zeros(2, np.int64), np.zeros(2)
    for i in range(40):
        before = [np.asarray(leaf).copy() for leaf in jax.tree.leaves(state.learner.params)]
        state, metrics = agent.iteration(state)
        updates, finished = np.asarray(metrics["updates_this_iteration"]), np.asarray(metrics["episodes_finished"])
        bank += 8 * finished if i >= 3 else 0  # 2 steps per env per iteration, learning from 8 rows per env
        owed = np.floor(bank if max_ratio == 0 else np.minimum(bank, max_ratio * 4))
        bank = bank if max_ratio == 0 else np.minimum(bank, owed + 8)
        bank -= owed
        np.testing.assert_array_equal(updates, owed)
        if updates[0] != updates[1] and min(updates) == 0:
            seen_uneven = True
            idle = int(np.argmin(updates))
            for old, new in zip(before, jax.tree.leaves(state.learner.params), strict=True):
                np.testing.assert_array_equal(old[idle], np.asarray(new)[idle])
        total = total + updates
    assert seen_uneven  # the seeds' episodes ended in different iterations at least once
    np.testing.assert_array_equal(np.asarray(state.learner.updates), total)


def test_the_final_line_gives_the_range_of_update_counts_when_seeds_differ():
    from types import SimpleNamespace

    from train import updates_label
    assert updates_label(SimpleNamespace(updates_per_seed=[40, 40])) == "40 updates per seed"
    assert updates_label(SimpleNamespace(updates_per_seed=[12, 30, 18])) == "12-30 updates per seed"


def test_a_multi_seed_run_records_every_seed_and_its_tools_pick_one(tmp_path):
    run = tmp_path / "run"
    config = dataclasses.replace(TINY, seed=5, seeds=2, total_env_steps=24, out=str(run),
                                 eval=dataclasses.replace(TINY.eval, every_env_steps=16))
    stopped = train(config, quiet=True, max_iterations=3)  # stopped midway, as a kill would
    assert stopped.env_steps == 12
    result = train(resume=run, quiet=True)
    assert result.env_steps == 24
    assert len(result.final_eval_means) == 2 and result.final_eval_mean == np.median(result.final_eval_means)
    rows = read_metrics(run)
    assert {row["seed"] for row in rows} == {5, 6}
    assert result.updates_per_seed == [read_metrics(run, seed=s)[-1]["updates"] for s in (5, 6)]
    assert [r["env_steps"] for r in read_metrics(run, seed=6)] == [r["env_steps"] for r in read_metrics(run, seed=5)]
    assert (run / "learning_curve.png").exists()
    assert {p.name for p in (run / "tensorboard").iterdir()} == {"seed_5", "seed_6"}
    assert evaluate_run(run, episodes=2, num_simulations=2, run_seed=6).shape == (2,)
    with pytest.raises(ValueError, match=r"--run-seed 7: the run trained seeds 5..6"):
        evaluate_run(run, episodes=2, num_simulations=2, run_seed=7)


def test_search_bootstrap_reads_the_stored_root_values_and_the_ema_target_moves_partway():
    config = dataclasses.replace(TINY, loss=dataclasses.replace(TINY.loss, bootstrap="search", target_ema=0.25))
    agent = Agent(config)
    state = agent.init()
    for _ in range(3):
        state, _ = agent.iteration(state)
    state = seed_slice(state, 0)
    assert float(jnp.abs(state.replay.data.root_value).max()) > 0  # the acting searches' values were kept
    k, n = config.loss.unroll_steps, config.loss.td_steps
    windows, age = sample_windows(state.replay, jax.random.PRNGKey(0), config.replay.batch_size, k + n + 1)
    targets = make_targets(agent.graphdef, agent.spec, state.learner.target_params, windows, age, config.num_envs)
    by_hand = jax.vmap(lambda w: n_step_targets(w, w.root_value.at[:n].set(0.0), k, n, config.discount,
                                                truncation_value=jnp.float32(0.0)))(windows)
    no_time_limit = ~windows.truncated.any(axis=1)  # the time limit bootstraps on the target network instead
    np.testing.assert_allclose(targets.value[no_time_limit], by_hand.value[no_time_limit], rtol=1e-5, atol=1e-5)

    new, _, _ = update(agent.graphdef, agent.tx, agent.spec, state.learner, state.replay, jax.random.PRNGKey(1))
    expected = jax.tree.map(lambda online, old: old + 0.25 * (online - old), new.params, state.learner.target_params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), new.target_params, expected)


def test_lookahead_bootstrap_is_the_best_one_step_lookahead_of_the_target_network():
    config = dataclasses.replace(TINY, loss=dataclasses.replace(TINY.loss, bootstrap="lookahead"))
    agent = Agent(config)
    state = agent.init()
    for _ in range(6):  # learning starts once each stream holds 8 rows (after 4 iterations)
        state, _ = agent.iteration(state)
    state = seed_slice(state, 0)
    params, g = state.learner.params, config.discount  # trained a little: the heads are no longer zero
    obs = state.replay.data.observation[:6, 0]  # [6, O]
    net = agent.model.net(params)
    latent = net.represent(obs)
    q = []
    for a in range(agent.env.num_actions):  # each action's reward + discounted value, one head call at a time
        next_latent, reward_logits = net.dynamics(latent, jnp.full((6,), a))
        q.append(logits_to_scalar(reward_logits) + g * logits_to_scalar(net.predict(next_latent)[1]))
    q = np.stack(q, axis=-1)
    assert np.abs(q[:, 0] - q[:, 1]).max() > 0  # the two actions are told apart, so the max matters
    np.testing.assert_allclose(lookahead_values(agent.graphdef, params, obs, g, lead_dims=1), q.max(-1), rtol=1e-5)
    only_first = jnp.zeros((6, 2), bool).at[:, 0].set(True)  # an illegal action never wins
    np.testing.assert_allclose(lookahead_values(agent.graphdef, params, obs, g, only_first, lead_dims=1), q[:, 0],
                               rtol=1e-5)
    # make_targets bootstraps on it where the 'target' bootstrap reads the value head
    k, n = config.loss.unroll_steps, config.loss.td_steps
    windows, age = sample_windows(state.replay, jax.random.PRNGKey(0), config.replay.batch_size, k + n + 1)
    targets = make_targets(agent.graphdef, agent.spec, params, windows, age, config.num_envs)
    boot = lookahead_values(agent.graphdef, params, windows.observation, g, windows.action_mask)
    by_hand = jax.vmap(lambda w, b: n_step_targets(w, b.at[:n].set(0.0), k, n, g, truncation_value=jnp.float32(0.0)))(
        windows, boot)
    no_time_limit = ~windows.truncated.any(axis=1)
    np.testing.assert_allclose(targets.value[no_time_limit], by_hand.value[no_time_limit], rtol=1e-5, atol=1e-5)
    value_only = target_values(agent.graphdef, params, windows.observation)
    assert np.abs(np.asarray(boot) - np.asarray(value_only)).max() > 1e-3  # not the plain value in disguise


def test_return_text_keeps_a_success_rate_from_rounding_to_one():
    """train.py's final line and the progress bar print returns by their size: CartPole's hundreds
    with one decimal (whole numbers per seed), a gridworld's success rate with three (two per seed)."""
    from agent.host.run import return_text
    assert (return_text(0.96875, 0.96875), return_text(0.171, 0.96875)) == ("0.969", "0.171")
    assert return_text(0.96875, 1.0, whole=True) == "0.97"
    assert (return_text(475.12, 500.0), return_text(475.12, 500.0, whole=True)) == ("475.1", "475")


def test_held_search_noise_is_one_key_per_block_of_each_envs_steps():
    """--noise-hold-steps 3 with 2 envs: env steps 0-2 of each env search with one key, 3-5 with the next."""
    step_keys = jax.random.split(jax.random.PRNGKey(0), 8)
    noise_key = jax.random.PRNGKey(1)
    keys = [np.asarray(held_noise_key(step_keys[i], noise_key, jnp.int32(2 * i), num_envs=2, hold=3))
            for i in range(8)]  # the run's env_steps count both envs
    same = [bool((keys[i] == keys[i + 1]).all()) for i in range(7)]
    assert same == [True, True, False, True, True, False, True]
    np.testing.assert_array_equal(held_noise_key(step_keys[0], None, jnp.int32(0), num_envs=2, hold=1), step_keys[0])
    # A run with held noise trains; its keys are constants of the run (the state, and so checkpoints,
    # keep their layout).
    held = Agent(dataclasses.replace(TINY, noise_hold_steps=4))
    state, metrics = held.iteration(held.init())
    assert np.isfinite(np.asarray(metrics["loss"])).all()
    assert jax.tree.structure(state) == jax.tree.structure(Agent(TINY).init())
