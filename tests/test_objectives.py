"""The objective as a first-class object: blends, user checks, hand values, and the
tools that evaluate and inspect a run under a swapped objective."""
import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
import search
from agent.algorithm.rollout import greedy_planner, rollout
from agent.config import ConfigError, validate
from agent.host.checkpoint import load_run
from agent.host.run import train
from agent.objectives import make_objective
from agent.tools.evaluate import evaluate_run
from agent.tools.explorer import read_page_data
from agent.tools.inspect import collect_trajectories, inspect_run, model_drift
from search.render import tree_layout
from tests.conftest import ROOT, TINY

LEAF = search.Leaf(embedding=jnp.zeros((3, 2)), features=jnp.array([[0.0, 4.0], [1.0, 3.0], [2.0, 2.0]]),
                   learned_value=jnp.array([5.0, 6.0, 7.0]))


@pytest.mark.parametrize("weight", [0.0, 1.0, 0.25])
def test_blend_is_a_weighted_mix_equal_to_its_ends_at_0_and_1(weight):
    first, second = search.LearnedValue(), search.FeatureValue(lambda f: -f[1], name="minus_distance")
    blended = search.Blend(first, second, weight)(LEAF)
    np.testing.assert_allclose(blended, (1 - weight) * first(LEAF) + weight * second(LEAF))
    if weight == 0.0:
        np.testing.assert_array_equal(blended, first(LEAF))
    if weight == 1.0:
        np.testing.assert_array_equal(blended, second(LEAF))


def test_check_value_fn_accepts_the_shipped_hand_values():
    for name in envs.names():
        env = envs.make(name)
        for fn in envs.hand_values(name).values():
            search.check_value_fn(fn, env)


@pytest.mark.parametrize("fn,message", [
    (lambda f: f, r"returned shape \(8, 4\).*must return a scalar"),
    (lambda f: jnp.sum(f) * jnp.nan, "NaN or inf"),
    (lambda f: (f[0] > 0).astype(jnp.int32), "dtype int32; return a float"),
    (lambda f: 1.0 if f[0] > 0 else 0.0, "raised TracerBoolConversionError.*use jnp.where"),
    (lambda f: f @ jnp.ones(3), "raised TypeError"),
])
def test_check_value_fn_says_what_is_wrong(fn, message):
    with pytest.raises(search.ValueFnCheckError, match=message):
        search.check_value_fn(fn, envs.make("cartpole"))


def test_pure_planning_with_the_hand_value_on_the_true_simulator_solves_cartpole():
    """No learning: the true dynamics + the 'upright' hand value keep the pole up for 500 steps."""
    env = envs.make("cartpole")
    objective = make_objective("cartpole", "upright", discount=0.997)
    returns, _ = jax.jit(lambda key: rollout(env, search.SimulatorModel(env), None, objective,
                                             greedy_planner(16), key, 20))(jax.random.PRNGKey(0))
    assert float(returns.mean()) >= 475.0, returns


def test_unknown_value_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown value 'tall' for env 'cartpole'; choose from learned, zero, upright"):
        make_objective("cartpole", "tall")
    with pytest.raises(ConfigError, match="--value 'tall' is invalid: choose from learned, zero, upright"):
        validate(dataclasses.replace(TINY, value="tall"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("objectives") / "run"
    train(dataclasses.replace(TINY, out=str(run), value="upright"), quiet=True, max_iterations=5)
    return run


def test_a_run_trained_with_a_hand_value_records_its_objective(tiny_run):
    assert json.loads((tiny_run / "config.json").read_text())["value"] == "upright"


def test_evaluate_plans_with_the_named_objective_on_the_named_model(tiny_run):
    """On the true simulator the hand value keeps the pole up for all 500 steps, while the
    'zero' value (rewards alone, two simulations deep) lets it fall: the name picks the goal."""
    upright = evaluate_run(tiny_run, value="upright", model="simulator", episodes=2, num_simulations=8)
    zero = evaluate_run(tiny_run, value="zero", model="simulator", episodes=2, num_simulations=8)
    np.testing.assert_array_equal(upright, [500.0, 500.0])
    assert zero.max() < 200, zero
    # On the learned model: the same episodes as the rollout of the loaded agent under that objective.
    agent, params = load_run(tiny_run)
    objective = make_objective("cartpole", "upright", agent.config.discount)
    expected, _ = jax.jit(lambda p: rollout(agent.env, agent.model, p, objective, greedy_planner(2),
                                            jax.random.PRNGKey(0), 2))(params)
    np.testing.assert_array_equal(evaluate_run(tiny_run, value="upright", episodes=2, num_simulations=2), expected)


def test_the_learned_value_searches_the_true_simulator_with_the_networks_prior_and_value(tiny_run):
    """--model simulator --value learned: exact dynamics, and at every node the network's prior and value
    head read from the representation of that node's true observation (the world model left out)."""
    agent, params = load_run(tiny_run)
    world = search.SimulatorModel(agent.env, agent.model)
    states, timesteps = jax.vmap(agent.env.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    root, expected = world.root(params, states), agent.model.root(params, timesteps.observation)
    np.testing.assert_allclose(root.prior_logits, expected.prior_logits, rtol=1e-6)
    np.testing.assert_allclose(root.learned_value, expected.learned_value, rtol=1e-6)
    reward, alive, child = world.step(params, states, jnp.array([0, 1]))
    next_states, next_steps = jax.vmap(agent.env.step)(states, jnp.array([0, 1]))
    np.testing.assert_array_equal(reward, next_steps.reward)
    np.testing.assert_array_equal(alive, 1.0 - next_steps.done)
    np.testing.assert_array_equal(child.embedding.step_count, next_states.step_count)
    np.testing.assert_allclose(child.learned_value, agent.model.root(params, next_steps.observation).learned_value,
                               rtol=1e-6)
    returns = evaluate_run(tiny_run, value="learned", model="simulator", episodes=2, num_simulations=2)
    assert returns.shape == (2,) and np.all(returns >= 1), returns
    # A hand value on the simulator keeps uniform priors and no network: the search it always was.
    assert search.SimulatorModel(agent.env).root(None, states).learned_value is None


def test_inspect_runs_end_to_end_and_writes_its_outputs(tiny_run):
    report = inspect_run(tiny_run, episodes=2, max_steps=6, num_simulations=2)
    out = tiny_run / "inspect"
    for name in ("report.json", "report.md", "values.png", "tree.dot", "tree.png", "tree.svg"):
        assert (out / name).stat().st_size > 0, name  # the pictures need no Graphviz binary
    # The run plans with 'upright' itself, so both greedy searches are one search: they agree everywhere.
    assert report["same_action_rate"] == 1.0
    assert report["states"] == sum(report["episode_lengths"]) and 0 < report["states"] <= 2 * 6
    assert set(report["decoder_mean_abs_error"]) == {"x", "x_dot", "theta", "theta_dot"}
    # The world model's drift: at depth 0 the decoder's own error; deeper, the unroll along the actions taken.
    drift = report["model_drift"]
    assert drift["depth"] == list(range(11))
    for name, errors in drift["mean_abs_error"].items():
        assert errors[0] == pytest.approx(report["decoder_mean_abs_error"][name], rel=1e-5)
    agent, params = load_run(tiny_run)
    hand = make_objective("cartpole", "upright", agent.config.discount)
    records = collect_trajectories(agent, params, hand, episodes=2, max_steps=6, num_simulations=2, seed=0,
                                   tree_episodes=0)
    errors = model_drift(agent.model, params, records, depth=2)
    # By hand: from every state t of both episodes, two model steps along the actions taken, against step t + 2.
    alive = records["alive"].astype(bool)
    gaps = []
    for t in range(len(alive) - 2):
        node = agent.model.root(params, jnp.asarray(records["observation"][t])).embedding
        for k in (0, 1):
            node = agent.model.step(params, node, jnp.asarray(records["own_action"][t + k]))[2].embedding
        gap = np.abs(np.asarray(agent.model.features(params, node)) - records["true_features"][t + 2])
        gaps += list(gap[alive[t + 2]])
    assert gaps, "the tiny run's episodes should last more than 2 steps"
    np.testing.assert_allclose(errors[2], np.mean(gaps, axis=0), rtol=1e-4)
    dot = (out / "tree.dot").read_text()
    assert dot.startswith("digraph") and "root" in dot and "N=" in dot and "Q=" in dot
    svg = (out / "tree.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_the_explorer_page_is_one_file_whose_data_match_the_report(tiny_run):
    report = inspect_run(tiny_run, episodes=2, max_steps=6, num_simulations=2, tree_episodes=1)
    page = Path(report["page"])
    text = page.read_text()
    # Self-contained: nothing is fetched (the SVG namespace URI is an identifier, not a request).
    assert not re.search(r"<link|<img|<iframe|\bsrc=|@import|url\(|fetch\(|XMLHttpRequest", text)
    assert set(re.findall(r"https?://[^\s\"']+", text)) <= {"http://www.w3.org/2000/svg"}
    data = read_page_data(page)
    assert data["report"] == json.loads((Path(report["report_dir"]) / "report.json").read_text())
    assert [e["length"] for e in data["episodes"]] == report["episode_lengths"]
    # a tree for every step of the first episode, none for the second; each drawn from its root
    assert {k for k in data["trees"]} == {f"0:{t}" for t in range(report["episode_lengths"][0])}
    for tree in data["trees"].values():
        assert tree["nodes"][0]["id"] == 0 and tree["path"][0] == 0
        assert tree["nodes"][0]["N"] == 3  # 2 simulations + the root's own visit
    assert len(data["ranked"]) == report["states"]  # fewer states than the ranking's 30
    cartpole_map = data["value_maps"][0]
    assert [p["name"] for p in cartpole_map["panels"]] == ["learned value", "upright (true features)"]
    assert np.array(cartpole_map["panels"][0]["values"]).shape == (17, 17)
    assert (Path(report["report_dir"]) / "value_maps.png").stat().st_size > 0


def test_tree_layout_puts_leaves_in_order_and_parents_over_their_children():
    # root 0 -> 1, 2; 1 -> 3, 4; 2 is a leaf
    position = tree_layout({0: [1, 2], 1: [3, 4], 2: [], 3: [], 4: []})
    assert position[3] == (0.0, 2) and position[4] == (1.0, 2) and position[2] == (2.0, 1)
    assert position[1] == (0.5, 1) and position[0] == (1.25, 0)


def test_evaluate_cli_refuses_a_wrong_value_name_without_a_traceback(tiny_run):
    proc = subprocess.run([sys.executable, "-m", "agent.tools.evaluate", str(tiny_run), "--value", "tall"], check=False,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown value 'tall' for env 'cartpole'; choose from learned, zero, upright" in proc.stderr
    assert "Traceback" not in proc.stderr


def _browser():
    """(playwright's sync API, the Chromium binary) or a reason to skip."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, "playwright is not installed (pip install playwright)"
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return None, "no Chromium binary on PATH (Debian: apt install chromium)"
    return (sync_playwright, binary), ""


def test_in_a_browser_clicking_another_step_redraws_the_tree_and_a_click_folds_a_subtree(tiny_run):
    browser, reason = _browser()
    if browser is None:
        pytest.skip(reason)
    sync_playwright, binary = browser
    report = inspect_run(tiny_run, episodes=2, max_steps=6, num_simulations=4, tree_episodes=1)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        page = chromium.new_page(viewport={"width": 1250, "height": 1400})
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(Path(report["page"]).resolve().as_uri())
        assert "step 0" in page.inner_text("#tree-title")
        first = page.inner_html("#tree")
        nodes = page.locator("#tree g.node").count()
        assert nodes >= 3
        box = page.locator("#timeline").bounding_box()
        last = report["episode_lengths"][0] - 1
        # The timeline maps step i to x = 60 + 1070 i / (length - 1): click step 2, then the last step.
        page.mouse.click(box["x"] + 60 + 1070 * 2 / last, box["y"] + 60)
        assert "step 2" in page.inner_text("#tree-title")
        page.mouse.click(box["x"] + 60 + 1070, box["y"] + 60)
        assert f"step {last}" in page.inner_text("#tree-title")
        assert page.inner_html("#tree") != first
        tree = page.evaluate(f"D.trees['0:{last}']")
        assert page.locator("#tree g.node").count() == len(tree["nodes"])
        child = tree["path"][1]  # the most visited child of the root: it has children of its own
        page.locator(f'#tree g.node[data-id="{child}"]').click()
        assert page.locator("#tree g.node").count() < len(tree["nodes"])
        assert not errors, errors
        chromium.close()
