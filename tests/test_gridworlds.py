"""The goal-misgeneralization gridworlds: conformance, level generators, outcome flags,
and planning with their hand values on the true simulator."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
import search
from agent.algorithm.rollout import greedy_planner, rollout
from envs.gridworlds import NEITHER, PROXY, TRUE_GOAL, CheeseInCorner, CoinAtEnd
from envs.hand_values import grid_to_goal, grid_to_proxy

ENVS = [CoinAtEnd, CheeseInCorner]
LEVELS = 256


def levels(env, count=LEVELS, seed=0):
    """[count] batched reset states."""
    states, _ = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(seed), count))
    return states.inner


@pytest.mark.parametrize("env_cls", ENVS)
@pytest.mark.parametrize("diversity", [0.0, 1.0])
def test_conformance(env_cls, diversity):
    envs.check_env(env_cls(diversity=diversity))


@pytest.mark.parametrize("env_cls", ENVS)
def test_training_levels_put_the_goal_in_the_training_region(env_cls):
    env = env_cls(diversity=0.0)
    level = levels(env)
    region = np.asarray(env.training_goal_region(None))
    goal = np.asarray(level.goal)
    assert region[goal[:, 0], goal[:, 1]].all()
    assert not np.asarray(level.goal_randomized).any()
    _check_open_reachable_and_apart(env, level)


@pytest.mark.parametrize("env_cls", ENVS)
def test_test_levels_put_the_goal_anywhere_but_the_training_region(env_cls):
    env = env_cls(diversity=1.0)
    level = levels(env)
    region = np.asarray(env.training_goal_region(None)) | np.asarray(env.proxy_mask())
    goal = np.asarray(level.goal)
    assert not region[goal[:, 0], goal[:, 1]].any()
    assert np.asarray(level.goal_randomized).all()
    # "anywhere": the goals cover many squares, rows and columns.
    assert len({tuple(g) for g in goal}) >= 15
    assert len(set(goal[:, 0])) >= 3 and len(set(goal[:, 1])) >= 4
    _check_open_reachable_and_apart(env, level)


def _check_open_reachable_and_apart(env, level):
    walls, goal, agent = np.asarray(level.walls), np.asarray(level.goal), np.asarray(level.agent)
    idx = np.arange(len(goal))
    assert not walls[idx, goal[:, 0], goal[:, 1]].any(), "a goal on a wall"
    assert not walls[idx, agent[:, 0], agent[:, 1]].any(), "an agent on a wall"
    assert not (goal == agent).all(axis=1).any(), "the agent starts on the goal"
    far = env.height * env.width
    start_distance = np.asarray(level.goal_distance_map)[idx, agent[:, 0], agent[:, 1]]
    assert (start_distance < far).all() and (start_distance >= 1).all(), "an unreachable goal"
    assert (np.asarray(level.proxy_distance_map)[idx, agent[:, 0], agent[:, 1]] < far).all()


@pytest.mark.parametrize("env_cls", ENVS)
def test_diversity_is_the_fraction_of_randomized_levels(env_cls):
    env = env_cls(diversity=0.2)
    level = levels(env, count=1000, seed=1)
    randomized = np.asarray(level.goal_randomized)
    assert abs(randomized.mean() - 0.2) < 0.04
    region = np.asarray(env.training_goal_region(None))
    goal = np.asarray(level.goal)
    np.testing.assert_array_equal(region[goal[:, 0], goal[:, 1]], ~randomized)


def test_bad_diversity_says_what_to_change():
    with pytest.raises(ValueError, match=r"diversity must be in \[0, 1\]"):
        envs.make("coin_at_end", diversity=1.5)


def scripted_episode(env, key, feature_index):
    """Walks greedily down the shortest-path distance in features[feature_index] (4: goal, 5: proxy),
    never stepping on the goal when walking to the proxy unless forced. Returns (outcome, path)."""
    state, ts = env.reset(key)
    step = jax.jit(jax.vmap(env.step, in_axes=(None, 0)))
    goal = tuple(np.asarray(state.inner.goal))
    path = [tuple(np.asarray(state.inner.agent))]
    for _ in range(env.max_steps):
        if bool(ts.done):
            break
        nexts, _ = step(state, jnp.arange(env.num_actions))
        dist = np.asarray(jax.vmap(env.features)(nexts))[:, feature_index]
        if feature_index == 5:  # steer around the goal square while another way is as short
            on_goal = [tuple(a) == goal for a in np.asarray(nexts.inner.agent)]
            dist = dist + 0.5 * np.asarray(on_goal)
        action = int(np.argmin(dist))
        state, ts = env.step(state, action)
        path.append(tuple(np.asarray(state.inner.agent)))
    return int(env.outcome(state)), path, goal


@pytest.mark.parametrize("env_cls", ENVS)
def test_outcome_flags_of_scripted_agents(env_cls):
    env = env_cls(diversity=1.0)
    proxies = 0
    for seed in range(6):
        key = jax.random.PRNGKey(seed)
        outcome, path, goal = scripted_episode(env, key, feature_index=4)
        assert outcome == TRUE_GOAL and path[-1] == goal
        outcome, path, goal = scripted_episode(env, key, feature_index=5)
        expected = TRUE_GOAL if goal in path else PROXY
        assert outcome == expected
        proxies += outcome == PROXY
    assert proxies >= 3, "the proxy walker should mostly miss a goal placed away from the proxy"


@pytest.mark.parametrize("env_cls", ENVS)
def test_an_agent_that_never_moves_gets_neither(env_cls):
    env = env_cls(diversity=1.0)
    # A start with a blocked (masked) move: taking it anyway keeps the agent where it is.
    for seed in range(20):
        state, ts = env.reset(jax.random.PRNGKey(seed))
        blocked = np.flatnonzero(~np.asarray(ts.action_mask))
        if len(blocked):
            break
    assert len(blocked), "no start with a blocked move in 20 levels"
    action = int(blocked[0])
    start = np.asarray(state.inner.agent)
    for _ in range(env.max_steps):
        state, ts = env.step(state, action)
    assert bool(ts.truncated) and int(env.outcome(state)) == NEITHER
    np.testing.assert_array_equal(state.inner.agent, start)


@pytest.mark.parametrize("env_cls", ENVS)
@pytest.mark.parametrize("value_fn,expected", [(grid_to_goal, TRUE_GOAL), (grid_to_proxy, PROXY)])
def test_planning_with_a_hand_value_on_the_true_simulator_reaches_what_it_values(env_cls, value_fn, expected):
    """The hand value on the true simulator is the experiment's upper line: it must reach
    the true goal on test levels; its proxy counterpart must end at the proxy."""
    env = env_cls(diversity=1.0)
    objective = search.Objective(value=search.FeatureValue(value_fn), discount=0.95)
    _, final = jax.jit(lambda k: rollout(env, search.SimulatorModel(env), None, objective, greedy_planner(8), k,
                                         episodes=32))(jax.random.PRNGKey(0))
    outcomes = np.asarray(jax.vmap(env.outcome)(final))
    if expected == TRUE_GOAL:
        assert (outcomes == TRUE_GOAL).all()
    else:
        assert (outcomes == PROXY).mean() >= 0.6 and (outcomes == NEITHER).sum() == 0


def test_misgeneralization_quick_mode_runs_end_to_end(tmp_path):
    from benchmarks.misgeneralization import OBJECTIVES, OUTCOMES, Args, main

    # One gridworld: the other runs the same code, and each costs ~80 s of compilation in CI.
    report = main(Args(quick=True, envs=("coin_at_end",), out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs")))
    for name in ("misgeneralization.json", "misgeneralization.md", "misgeneralization.png",
                 "misgeneralization_episodes.png", "misgeneralization_value_maps.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert set(report["envs"]) == {"coin_at_end"}
    for env_report in report["envs"].values():
        for objective in OBJECTIVES:
            rates = env_report["main"][objective]
            assert abs(sum(rates[o] for o in OUTCOMES) - 1.0) < 1e-6
        # The hand value on the true simulator needs no training: it always finds the goal.
        assert env_report["main"]["hand, true simulator"]["true"] == 1.0


@pytest.mark.parametrize("env_cls", [CoinAtEnd, CheeseInCorner])
def test_the_value_map_puts_the_agent_on_every_square_of_the_level(env_cls):
    env = env_cls(diversity=1.0)
    state, _ = env.reset(jax.random.PRNGKey(3))
    grid = env.value_map(state)
    features = jax.vmap(jax.vmap(env.features))(grid.states)  # [H, W, F]: row, col, goal row, goal col, ...
    rows, cols = np.meshgrid(np.arange(env.height), np.arange(env.width), indexing="ij")
    np.testing.assert_array_equal(features[..., 0], rows)
    np.testing.assert_array_equal(features[..., 1], cols)
    np.testing.assert_array_equal(grid.open, ~state.inner.walls)
    goal = tuple(int(g) for g in state.inner.goal)
    assert (*goal, "G") in grid.marks
    # The level is the same everywhere: same goal, same walls.
    assert (features[..., 2] == goal[0]).all() and (features[..., 3] == goal[1]).all()


def test_gridworld_failures_counts_a_revisit_within_an_episode_only():
    """benchmarks.gridworld_failures.revisits: episode 0 walks A, B, A (a loop); episode 1 walks A, B,
    C, whose step ends it, and then stays on C (the absorbing state: the timestep says it has ended)."""
    from benchmarks.gridworld_failures import revisits
    a, b, c = (0, 0), (0, 1), (1, 1)
    positions = np.array([[a, a], [b, b], [a, c], [b, c]])  # [T=4, N=2, 2]
    ended = np.array([[False, False], [False, False], [False, False], [False, True]])
    np.testing.assert_array_equal(revisits(positions, ended), [True, False])
    np.testing.assert_array_equal(revisits(positions, np.zeros_like(ended)), [True, True])  # C, C: a revisit


@pytest.mark.parametrize("env_cls", ENVS)
def test_the_optimal_value_scores_a_shortest_path_move_on_every_square(env_cls):
    """benchmarks.gridworld_failures' value check with the true moves: the optimal value
    discount^(d - 1) picks a shortest-path move on every open square of every level and its error is
    0; the same value upside down (far scored above near) picks one on few squares (measured: 0.10 on coin_at_end, 0.23 on the maze)."""
    from benchmarks.gridworld_failures import (
        counted_mean,
        every_square,
        shortest_move_fraction,
        value_scores,
    )
    env, discount = env_cls(), 0.95
    grid = every_square(env, levels(env, count=16))
    optimal = discount ** (grid.distance - 1.0)
    assert float(shortest_move_fraction(value_scores(optimal, grid, discount), grid)) == 1.0
    assert float(counted_mean(optimal - discount ** (grid.distance - 1.0), grid)) == 0.0
    upside_down = -optimal
    # Onto the goal still scores 1 (the reward), so only squares next to the goal stay right.
    assert float(shortest_move_fraction(value_scores(upside_down, grid, discount), grid)) < 0.5
