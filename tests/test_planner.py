"""The planner: it finds known optima, masks illegal actions everywhere, and obeys the objective."""
import jax
import jax.numpy as jnp
import mctx
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
import search
from networks import MuZeroMLP, NetworkConfig

KEY = jax.random.PRNGKey(0)


def batched_reset(env, batch):
    return jax.vmap(env.reset)(jax.random.split(KEY, batch))


def plan_sim(env, objective, batch=4, **config):
    states, _ = batched_reset(env, batch)
    model = search.SimulatorModel(env)
    fn = jax.jit(lambda key, s: search.plan(None, key, s, model=model, objective=objective,
                                            config=search.PlannerConfig(**config)))
    return fn(jax.random.PRNGKey(1), states), states


# PUCT scores unvisited arms at the worst sibling's Q, so it locks onto its first arm
# until the prior term catches up: it needs more simulations than Gumbel here.
@pytest.mark.parametrize("policy,num_simulations", [("gumbel", 16), ("muzero", 64)])
def test_bandit_best_arm(policy, num_simulations):
    env = envs.make("bandit")
    out, _ = plan_sim(env, search.Objective(value=search.Constant(0.0)), policy=policy,
                      num_simulations=num_simulations, temperature=0.0, dirichlet_fraction=0.0,
                      gumbel_scale=0.0)
    best = int(np.argmax(env.arm_rewards))
    np.testing.assert_array_equal(out.action, best)
    np.testing.assert_allclose(out.tree.summary().qvalues[:, best], max(env.arm_rewards), rtol=1e-6)


def test_true_simulator_finds_the_optimal_first_action_of_the_chain():
    """From cell 1 the coin (0.1) is 2 steps left and the goal (1.0) 3 steps right;
    nothing is seen before an end, so only a 3-deep search picks right."""
    env = envs.make("chain", length=5, start=1)
    out, _ = plan_sim(env, search.Objective(value=search.Constant(0.0), discount=0.99), num_simulations=32)
    np.testing.assert_array_equal(out.action, envs.toy.RIGHT)
    # Too few simulations cannot see the goal: the test is about depth.
    shallow, _ = plan_sim(env, search.Objective(value=search.Constant(0.0), discount=0.99), num_simulations=4)
    assert not np.all(np.asarray(shallow.action) == envs.toy.RIGHT)


def illegal_expansions(env, out) -> int:
    """Counts tree nodes reached through an action illegal in their parent's state."""
    tree = out.tree
    masks = jax.vmap(jax.vmap(env.action_mask))(tree.embeddings)  # [B, N, A]
    parents = np.asarray(tree.parents)
    actions = np.asarray(tree.action_from_parent)
    masks = np.asarray(masks)
    count = 0
    for b, n in zip(*np.nonzero(parents >= 0)):
        count += int(not masks[b, parents[b, n], actions[b, n]])
    return count


class UnmaskedSimulator(search.SimulatorModel):
    masks_interior = False  # what plain mctx does: masks only the root


@pytest.mark.parametrize("policy", ["gumbel", "muzero"])
def test_interior_masking_never_expands_an_illegal_action(policy):
    env = envs.make("chain", length=5, start=1)
    objective = search.Objective(value=search.Constant(0.0), discount=0.99)
    out, _ = plan_sim(env, objective, policy=policy, num_simulations=64)
    assert illegal_expansions(env, out) == 0
    # The check has teeth: root-only masking (plain mctx) does expand illegal actions.
    states, _ = batched_reset(env, 4)
    unmasked = search.plan(None, jax.random.PRNGKey(1), states, model=UnmaskedSimulator(env),
                           objective=objective, config=search.PlannerConfig(policy=policy, num_simulations=64))
    assert illegal_expansions(env, unmasked) > 0


def test_swapping_the_value_fn_flips_the_action():
    """Two hand values that disagree: 'near the goal' picks right, 'near the wall' picks left."""
    env = envs.make("chain", length=5, start=2)
    near_goal = search.FeatureValue(lambda f: -f[1], name="minus_distance_to_goal")
    near_wall = search.FeatureValue(lambda f: -f[0], name="minus_position")
    to_goal, _ = plan_sim(env, search.Objective(value=near_goal, discount=0.99), num_simulations=8)
    to_wall, _ = plan_sim(env, search.Objective(value=near_wall, discount=0.99), num_simulations=8)
    np.testing.assert_array_equal(to_goal.action, envs.toy.RIGHT)
    np.testing.assert_array_equal(to_wall.action, envs.toy.LEFT)


def tiny_learned_model(env):
    config = NetworkConfig(hidden=8, latent=8, layers=1, value_support=3, reward_support=2)
    net = MuZeroMLP(env.observation_shape[0], env.num_actions, env.num_features, config, rngs=nnx.Rngs(0))
    return search.LearnedModel.from_network(net, env.observation_shape, env.num_actions)


MODEL = tiny_learned_model(envs.make("chain", length=5, start=0))


def test_learned_model_plan_shapes_and_root_mask():
    env = envs.make("chain", length=5, start=0)
    model, params = tiny_learned_model(env)
    _states, ts = batched_reset(env, 3)
    out = search.plan(params, KEY, ts.observation, model=model, action_mask=ts.action_mask,
                      config=search.PlannerConfig(num_simulations=4))
    assert out.action.shape == (3,) and out.action_weights.shape == (3, 3)
    assert out.root_value.shape == (3,)
    # Left is illegal at the wall: zero weight, never chosen.
    np.testing.assert_array_equal(out.action_weights[:, 0], 0.0)
    assert not np.any(np.asarray(out.action) == 0)


def test_wrong_observation_shape_names_the_expected_shape():
    env = envs.make("cartpole")
    model, params = tiny_learned_model(env)
    with pytest.raises(ValueError, match=r"shape \(4,\).*expects \[B, 4\].*obs\[None\]"):
        search.plan(params, KEY, jnp.zeros((4,)), model=model)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.booleans(), min_size=3, max_size=3), st.integers(0, 2),
       st.sampled_from([np.nan, np.inf, -np.inf, None]))
def test_bad_inputs_are_refused_naming_the_rows(legal_row, bad_row, bad_value):
    """A mask row with no legal action, a NaN/inf observation, a mask of the wrong shape: each
    is a ValueError that names it (called eagerly), never an mctx or XLA traceback."""
    env = envs.make("chain", length=5, start=0)
    model, params = MODEL
    _, ts = batched_reset(env, 3)
    observation = np.asarray(ts.observation).copy()
    if bad_value is not None:
        observation[bad_row, 0] = bad_value
    mask = np.ones((3, 3), bool)
    mask[bad_row] = legal_row
    config = search.PlannerConfig(num_simulations=2)
    if bad_value is not None:
        with pytest.raises(ValueError, match=rf"observations with NaN or inf in rows \[{bad_row}\]"):
            search.plan(params, KEY, observation, model=model, action_mask=mask, config=config)
    elif not any(legal_row):
        with pytest.raises(ValueError, match=rf"no legal action in rows \[{bad_row}\]"):
            search.plan(params, KEY, observation, model=model, action_mask=mask, config=config)
    else:
        out = search.plan(params, KEY, observation, model=model, action_mask=mask, config=config)
        assert bool(mask[np.arange(3), np.asarray(out.action)].all())  # a legal action in every row
    with pytest.raises(ValueError, match=r"action_mask of shape \(3,\); expected \(3, 3\)"):
        search.plan(params, KEY, observation, model=model, action_mask=mask[0], config=config)


def test_value_fn_of_the_wrong_shape_is_refused_with_a_hint():
    env = envs.make("chain")
    bad = search.FeatureValue(lambda f: f, name="returns_all_features")  # [F], not a scalar
    with pytest.raises(ValueError, match=r"returns_all_features.*shape \(4, 2\); expected \(4,\).*scalar"):
        plan_sim(env, search.Objective(value=bad), num_simulations=2)


def test_learned_value_on_the_simulator_is_refused():
    env = envs.make("chain")
    with pytest.raises(ValueError, match="has none; use a hand-specified value"):
        plan_sim(env, search.Objective(), num_simulations=2)


def test_objective_prints_what_it_is_made_of():
    obj = search.Objective(value=search.Blend(search.LearnedValue(), search.Constant(1.0), 0.25), discount=0.9)
    assert str(obj) == ("Objective(reward=ModelReward, value=Blend(0.75 x LearnedValue(value head) + "
                        "0.25 x Constant(1)), discount=0.9)")
    with pytest.raises(TypeError, match="wrap a plain function of features in FeatureValue"):
        search.Objective(value=lambda leaf: leaf.features[:, 0])


def test_tree_scaled_q_values_follow_the_tree_and_match_mctx_when_the_ranges_agree():
    """search.qtransforms scales a node's completed Q by the min-max over the whole tree: at the
    root of a bandit searched on the true simulator it equals the hand formula, and it differs
    from mctx's per-children scaling exactly by the ratio of the two ranges."""
    env = envs.make("bandit")
    out, _ = plan_sim(env, search.Objective(value=search.Constant(0.0)), num_simulations=16, gumbel_scale=0.0,
                      gumbel_q_scaling="tree")
    tree = jax.tree.map(lambda x: x[0], out.tree)  # unbatched, as mctx calls Q-transforms
    root = jnp.int32(0)
    ours = np.asarray(search.qtransforms.completed_by_mix_value_tree_scaled(tree, root))
    theirs = np.asarray(mctx.qtransform_completed_by_mix_value(tree, root))
    completed = np.asarray(mctx.qtransform_completed_by_mix_value(tree, root, rescale_values=False, value_scale=1.0,
                                                                   maxvisit_init=0.0)) / np.max(tree.children_visits[0])
    values = np.asarray(tree.node_values)[np.asarray(tree.node_visits) > 0]
    low, high = min(values.min(), completed.min()), max(values.max(), completed.max())
    scale = (50 + np.max(tree.children_visits[0])) * 0.1
    np.testing.assert_allclose(ours, scale * (completed - low) / (high - low), rtol=1e-5, atol=1e-6)
    # Same ordering as mctx; mctx's children-only range stretches the same gaps to [0, 1].
    siblings = completed.max() - completed.min()
    np.testing.assert_allclose(ours - ours.min(), (theirs - theirs.min()) * siblings / (high - low), rtol=1e-4,
                               atol=1e-5)
