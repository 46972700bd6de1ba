"""Replay windows and n-step targets, against hand-computed numbers."""
import jax
import jax.numpy as jnp
import numpy as np

from agent.algorithm import replay as replay_lib
from agent.algorithm.targets import n_step_targets


def transition(t, num_envs=2, terminated=False, truncated=False, reward=1.0):
    e = num_envs
    return replay_lib.Transition(
        observation=jnp.full((e, 1), float(t)), action=jnp.full((e,), t % 2, jnp.int32),
        reward=jnp.full((e,), reward), terminated=jnp.full((e,), terminated), truncated=jnp.full((e,), truncated),
        policy=jnp.full((e, 2), 0.5), features=jnp.full((e, 1), float(t)))


def test_windows_are_consecutive_rows_of_one_stream_across_the_ring_edge():
    buf = replay_lib.init(transition(0), capacity=8)
    for t in range(13):  # wraps: rows hold t = 5..12
        buf = replay_lib.add(buf, transition(t))
    windows, age = replay_lib.sample_windows(buf, jax.random.PRNGKey(0), batch=64, length=4)
    obs = np.asarray(windows.observation[..., 0])  # [64, 4]
    np.testing.assert_array_equal(np.diff(obs, axis=1), 1.0)  # consecutive
    assert obs.min() >= 5 and obs.max() <= 12  # only rows still held
    np.testing.assert_array_equal(np.asarray(age), 12 - obs[:, 0])
    assert int(replay_lib.size(buf)) == 8


def test_windows_to_the_head_start_at_every_held_row_and_stop_where_the_data_ends():
    # Rows hold t = 5..12 (capacity 8); windows of 4 rows may start at 10, 11, 12 as well, their
    # rows past t = 12 marked as after a time limit at the newest row (its next observation is kept).
    buf = replay_lib.init(transition(0), capacity=8)
    for t in range(13):
        buf = replay_lib.add(buf, transition(t, terminated=t == 11))
    windows, age = replay_lib.sample_windows(buf, jax.random.PRNGKey(0), batch=256, length=4, to_head=True)
    first = np.asarray(windows.observation[:, 0, 0])
    assert set(first.tolist()) == set(range(5, 13))  # every held row starts some window
    np.testing.assert_array_equal(np.asarray(age), 12 - first)
    truncated, terminated = np.asarray(windows.truncated), np.asarray(windows.terminated)
    for b, t0 in enumerate(first.astype(int)):
        newest = 12 - t0  # the window's row holding t = 12
        expected = np.zeros(4, bool)
        if newest < 3:  # the window reaches past the head: its newest row is cut (t = 11 terminated)
            expected[newest] = True
        np.testing.assert_array_equal(truncated[b], expected)
        np.testing.assert_array_equal(terminated[b, : newest + 1], np.arange(t0, min(t0 + 4, 13)) == 11)
    # The n-step value of a window from t = 12 (the newest row) bootstraps where t = 12's step led.
    from_newest = int(np.argmax(first == 12))
    w = jax.tree.map(lambda x: x[from_newest], windows)
    t = n_step_targets(w, jnp.full((4,), 100.0), unroll_steps=1, td_steps=2, discount=0.5,
                       truncation_value=jnp.float32(50.0))
    np.testing.assert_allclose(t.value, [1 + 0.5 * 50, 0.0])
    np.testing.assert_array_equal(t.value_mask, [1, 0])  # nothing is known past the head
    # Without to_head only fully written windows: starts 5..9.
    windows, _ = replay_lib.sample_windows(buf, jax.random.PRNGKey(0), batch=256, length=4)
    assert set(np.asarray(windows.observation[:, 0, 0]).tolist()) == set(range(5, 10))
    assert not np.asarray(windows.truncated).any()


def window(rewards, terminated=(), truncated=()):
    n = len(rewards)
    term = np.zeros(n, bool)
    trunc = np.zeros(n, bool)
    term[list(terminated)] = True
    trunc[list(truncated)] = True
    return replay_lib.Transition(
        observation=jnp.zeros((n, 1)), action=jnp.zeros((n,), jnp.int32), reward=jnp.asarray(rewards, jnp.float32),
        terminated=jnp.asarray(term), truncated=jnp.asarray(trunc), policy=jnp.full((n, 2), 0.5),
        features=jnp.zeros((n, 1)))


def test_n_step_value_bootstraps_on_the_target_value():
    # K=1, n=2, L=4: value_0 = r0 + g r1 + g^2 v(2); value_1 = r1 + g r2 + g^2 v(3)
    g = 0.9
    w = window([1.0, 2.0, 3.0, 4.0])
    boot = jnp.array([0.0, 0.0, 10.0, 20.0])
    t = n_step_targets(w, boot, unroll_steps=1, td_steps=2, discount=g)
    np.testing.assert_allclose(t.value, [1 + g * 2 + g**2 * 10, 2 + g * 3 + g**2 * 20], rtol=1e-6)
    np.testing.assert_allclose(t.reward, [0.0, 1.0])
    np.testing.assert_array_equal(t.value_mask, [1, 1])
    np.testing.assert_array_equal(t.reward_mask, [0, 1])


def test_td_zero_makes_each_rows_bootstrap_its_target_and_zero_past_a_termination():
    # K=2, n=0, L=3: value_k = v_boot(k) while row k is in row 0's episode; the rewards enter only
    # through the bootstrap (a lookahead through the model's reward head) and as reward targets.
    w = window([1.0, 5.0, 7.0], terminated=[1])
    t = n_step_targets(w, jnp.array([10.0, 20.0, 30.0]), unroll_steps=2, td_steps=0, discount=0.9)
    np.testing.assert_allclose(t.value, [10.0, 20.0, 0.0])  # row 2 is past the termination: absorbing 0
    np.testing.assert_allclose(t.reward, [0.0, 1.0, 5.0])


def test_termination_zeroes_what_follows_and_stops_bootstrapping():
    # The action at row 1 terminates: rows 2.. belong to the next episode.
    g = 0.5
    w = window([1.0, 1.0, 7.0, 7.0, 7.0], terminated=[1])
    boot = jnp.full((5,), 100.0)
    t = n_step_targets(w, boot, unroll_steps=2, td_steps=2, discount=g)
    np.testing.assert_allclose(t.value, [1 + g * 1, 1.0, 0.0])  # no bootstrap, absorbing zero
    np.testing.assert_allclose(t.reward, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(t.value_mask, [1, 1, 1])  # absorbing value 0 is a real target
    np.testing.assert_array_equal(t.policy_mask, [1, 1, 0])


def test_returns_to_go_sum_each_rows_rewards_to_its_episodes_end_across_the_ring_edge():
    # Capacity 8, 13 steps written: rows hold t = 5..12. Stream 0: t = 7 terminates, t = 10 hits a
    # time limit, t = 11..12 are a running episode (its return stops at the newest row). Stream 1 has
    # other rewards and one termination, at t = 9, so that streams cannot be mixed up unseen.
    g = 0.5
    rewards = {0: [float(t) for t in range(13)], 1: [10.0 - t for t in range(13)]}
    terminal = {0: (7,), 1: (9,)}
    limit = {0: (10,), 1: ()}
    buf = replay_lib.init(transition(0), capacity=8)
    for t in range(13):
        step = transition(t)._replace(
            reward=jnp.array([rewards[0][t], rewards[1][t]]),
            terminated=jnp.array([t in terminal[0], t in terminal[1]]),
            truncated=jnp.array([t in limit[0], t in limit[1]]))
        buf = replay_lib.add(buf, step)
    ring = np.asarray(replay_lib.returns_to_go(buf, g))  # [C, E]
    for e in (0, 1):
        following = 0.0
        for t in range(12, 4, -1):  # backwards in time, as the definition reads
            ends = t in terminal[e] or t in limit[e]
            following = rewards[e][t] + (0.0 if ends else g * following)
            np.testing.assert_allclose(ring[t % 8, e], following, rtol=1e-6)
    # A buffer not yet full: the unwritten rows (zeros) count for nothing.
    young = replay_lib.init(transition(0), capacity=8)
    for t in range(3):
        young = replay_lib.add(young, transition(t, reward=1.0))
    np.testing.assert_allclose(np.asarray(replay_lib.returns_to_go(young, g))[:3, 0], [1.75, 1.5, 1.0])


def test_a_value_lower_bound_raises_targets_inside_the_episode_only():
    # K=2, n=1: value_k = r_k + g v(k+1). Row 1 terminates: row 2 is the next episode, whose return
    # must not leak into the absorbing target 0.
    g = 0.5
    w = window([1.0, 1.0, 7.0, 7.0], terminated=[1])._replace(return_to_go=jnp.array([30.0, 1.0, 50.0, 0.0]))
    t = n_step_targets(w, jnp.zeros((4,)), unroll_steps=2, td_steps=1, discount=g)
    np.testing.assert_allclose(t.value, [30.0, 1.0, 0.0])  # 1 raised to 30; 1 = 1 stays; absorbing 0 stays
    # Where the n-step target is already higher, it is kept.
    high = n_step_targets(w._replace(return_to_go=jnp.zeros((4,))), jnp.zeros((4,)), 2, 1, g)
    np.testing.assert_allclose(high.value, [1.0, 1.0, 0.0])


def test_the_learner_samples_windows_with_their_rows_returns_to_go_and_keeps_none_in_replay():
    import dataclasses

    from agent.algorithm.learner import sample
    from agent.algorithm.spec import LearnerSpec
    from tests.conftest import TINY

    config = dataclasses.replace(TINY, loss=dataclasses.replace(TINY.loss, value_lower_bound=True))
    spec = LearnerSpec.from_config(config)
    buf = replay_lib.init(transition(0), capacity=16)
    for t in range(20):
        buf = replay_lib.add(buf, transition(t, terminated=t % 6 == 5, reward=float(t)))
    windows, *_ = sample(spec, buf, jax.random.PRNGKey(1), 0)
    ring = np.asarray(replay_lib.returns_to_go(buf, config.discount))[:, 0]  # both streams hold the same
    rows = np.asarray(windows.observation[..., 0]).astype(int) % 16  # observation t sits in ring row t % 16
    np.testing.assert_allclose(np.asarray(windows.return_to_go), ring[rows], rtol=1e-6)
    assert buf.data.return_to_go is None  # computed per update, never stored


def test_truncation_masks_the_unknown_states_after_it():
    w = window([1.0, 1.0, 7.0, 7.0, 7.0], truncated=[0])
    t = n_step_targets(w, jnp.zeros((5,)), unroll_steps=2, td_steps=2, discount=0.5)
    np.testing.assert_array_equal(t.value_mask, [1, 0, 0])
    np.testing.assert_array_equal(t.reward_mask, [0, 1, 0])  # the truncating step's reward is real
    np.testing.assert_array_equal(t.policy_mask, [1, 0, 0])


def test_a_time_limit_bootstraps_on_the_final_observation():
    # The step from row 2 hits the time limit; its final observation is worth 50. K=2, n=3.
    g = 0.5
    w = window([1.0, 1.0, 1.0, 7.0, 7.0, 7.0], truncated=[2])
    boot = jnp.full((6,), 100.0)  # row 3 onwards belongs to the next episode: never used here
    t = n_step_targets(w, boot, unroll_steps=2, td_steps=3, discount=g, truncation_value=jnp.float32(50.0))
    np.testing.assert_allclose(t.value, [1 + g + g**2 + g**3 * 50, 1 + g + g**2 * 50, 1 + g * 50])
    np.testing.assert_array_equal(t.value_mask, [1, 1, 1])
    # A time limit after a termination belongs to another episode: no bootstrap from it.
    w = window([1.0, 1.0, 1.0, 7.0, 7.0, 7.0], terminated=[0], truncated=[2])
    t = n_step_targets(w, boot, unroll_steps=2, td_steps=3, discount=g, truncation_value=jnp.float32(50.0))
    np.testing.assert_allclose(t.value, [1.0, 0.0, 0.0])


def test_targets_jit_and_vmap_agree_with_eager():
    w = window([1.0, 2.0, 3.0, 4.0, 5.0], terminated=[3])
    boot = jnp.arange(5.0)
    eager = n_step_targets(w, boot, 2, 2, 0.9)
    batched = jax.jit(jax.vmap(lambda a, b: n_step_targets(a, b, 2, 2, 0.9)))(
        jax.tree.map(lambda x: jnp.stack([x, x]), w), jnp.stack([boot, boot]))
    for a, b in zip(eager, batched, strict=True):
        np.testing.assert_allclose(b[1], a, rtol=1e-6)


def test_off_policy_horizon_formula_at_its_edges():
    from agent.algorithm.schedules import corrected_td_steps

    total = 10_000  # 0.3 x total = 3,000 env steps per step of shortening
    ages = jnp.array([0, 2_999, 3_000, 6_000, 11_999, 12_000, 50_000])
    np.testing.assert_array_equal(corrected_td_steps(ages, 5, total), [5, 5, 4, 3, 2, 1, 1])


def test_a_shorter_horizon_bootstraps_earlier():
    g = 0.5
    w = window([1.0, 2.0, 3.0, 4.0, 5.0])
    boot = jnp.array([0.0, 10.0, 20.0, 30.0, 40.0])
    full = n_step_targets(w, boot, unroll_steps=1, td_steps=3, discount=g)
    one = n_step_targets(w, boot, unroll_steps=1, td_steps=3, discount=g, horizon=jnp.array(1))
    np.testing.assert_allclose(full.value, [1 + g * 2 + g**2 * 3 + g**3 * 30, 2 + g * 3 + g**2 * 4 + g**3 * 40])
    np.testing.assert_allclose(one.value, [1 + g * 10, 2 + g * 20])


def filled_buffer_with_priorities():
    buf = replay_lib.init(transition(0), capacity=8)
    for t in range(13):  # rows hold t = 5..12; row r holds t with t % 8 == r
        buf = replay_lib.add(buf, transition(t))
    priorities = np.random.default_rng(0).uniform(0.1, 3.0, size=16).astype(np.float32)
    return replay_lib.update_priorities(buf, jnp.arange(16), jnp.asarray(priorities)), priorities.reshape(8, 2)


def numpy_per(priorities, alpha, length):
    """Direct computation: valid starts are rows holding t in [5, 13 - length]."""
    held_t = np.array([t for t in range(5, 13)])
    valid_t = held_t[held_t <= 13 - length]
    valid = np.zeros((8, 2), bool)
    valid[valid_t % 8] = True
    scores = np.where(valid, priorities**alpha, 0.0)
    return scores / scores.sum(), valid


def test_prioritized_probabilities_match_numpy():
    buf, priorities = filled_buffer_with_priorities()
    expected, valid = numpy_per(priorities, 0.6, length=4)
    np.testing.assert_allclose(replay_lib.prioritized_probabilities(buf, 4, 0.6), expected, rtol=1e-5)
    assert valid.sum() == 10  # starts t = 5..9 (5 rows) x 2 streams


def test_prioritized_windows_to_the_head_start_at_every_held_row_and_are_cut_at_the_newest():
    buf, priorities = filled_buffer_with_priorities()
    expected = priorities**0.6 / np.sum(priorities**0.6)  # every held row (t = 5..12) may start a window
    np.testing.assert_allclose(replay_lib.prioritized_probabilities(buf, 4, 0.6, to_head=True), expected, rtol=1e-5)
    windows, age, _, _ = replay_lib.sample_prioritized(buf, jax.random.PRNGKey(0), batch=512, length=4, alpha=0.6,
                                                       beta=0.5, to_head=True)
    first = np.asarray(windows.observation[:, 0, 0]).astype(int)
    assert set(first.tolist()) == set(range(5, 13))
    np.testing.assert_array_equal(np.asarray(age), 12 - first)
    truncated = np.asarray(windows.truncated)
    for b, t0 in enumerate(first):
        np.testing.assert_array_equal(truncated[b], (np.arange(4) == 12 - t0) & (t0 > 9))  # cut at t = 12


def test_prioritized_sampling_frequencies_and_importance_weights():
    buf, priorities = filled_buffer_with_priorities()
    expected, _ = numpy_per(priorities, 0.6, length=4)
    windows, age, weights, index = replay_lib.sample_prioritized(
        buf, jax.random.PRNGKey(0), batch=20_000, length=4, alpha=0.6, beta=0.5)
    counts = np.bincount(np.asarray(index), minlength=16).reshape(8, 2) / 20_000
    np.testing.assert_allclose(counts, expected, atol=0.01)
    probs = expected.reshape(-1)[np.asarray(index)]
    raw = (10 * probs) ** -0.5  # N = 10 valid starts
    np.testing.assert_allclose(weights, raw / raw.max(), rtol=1e-4)
    obs = np.asarray(windows.observation[..., 0])
    np.testing.assert_array_equal(np.diff(obs, axis=1), 1.0)  # still consecutive rows of one stream
    np.testing.assert_array_equal(np.asarray(age), 12 - obs[:, 0])


def test_new_data_gets_the_max_priority():
    buf, priorities = filled_buffer_with_priorities()
    buf = replay_lib.add(buf, transition(13))
    np.testing.assert_allclose(buf.priority[13 % 8], priorities.max(), rtol=1e-6)
