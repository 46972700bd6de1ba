"""search/batched_search.py must build the very trees mctx builds: same keys in, the same
action, action weights and every array of the tree out, bit for bit.

Random world models (a random linear map per action, rewards, values, priors and
terminations read off the state) give trees of every shape; each configuration compiles
once and is checked on many random batches (params and keys are arguments).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx
import numpy as np
import pytest

import envs
import search
from benchmarks.search_throughput import (
    OBSERVATION_DIM,
    build_network,
    make_implementations,
)
from search import batched_search, planner, puct, selection, threefry
from search.qtransforms import completed_by_mix_value_tree_scaled

BATCH, ACTIONS, LATENT, SIMULATIONS = 8, 5, 3, 12
TRIALS = 6  # random (params, key) draws per configuration; 48 trees each


def random_params(key):
    k = jax.random.split(key, 6)
    return {"dynamics": jax.random.normal(k[0], (ACTIONS, LATENT, LATENT)),
            "reward": jax.random.normal(k[1], (LATENT,)),
            "value": jax.random.normal(k[2], (LATENT,)),
            "prior": 2.0 * jax.random.normal(k[3], (LATENT, ACTIONS)),
            "root": jax.random.normal(k[4], (BATCH, LATENT)),
            "steps": jnp.zeros((BATCH,))}


def root_of(params, invalid_actions):
    """A RootFnOutput with a pytree embedding (latent, step counter), as the value-prefix
    model's (latent, LSTM state) is."""
    latent = params["root"]
    logits = latent @ params["prior"]
    return mctx.RootFnOutput(prior_logits=logits, value=latent @ params["value"], embedding=(latent, params["steps"]))


def recurrent_fn(params, key, action, embedding):
    del key
    latent, steps = embedding
    latent = jnp.tanh(jnp.einsum("bij,bj->bi", params["dynamics"][action], latent))
    # Terminal where the first coordinate is high: discount 0 makes the recursion cut.
    discount = jnp.where(latent[:, 0] > 0.8, 0.0, 0.95)
    out = mctx.RecurrentFnOutput(reward=latent @ params["reward"], discount=discount,
                                 prior_logits=latent @ params["prior"], value=latent @ params["value"])
    return out, (latent, steps + 1)


CONFIGS = {
    "gumbel": {"policy": "gumbel"},
    "gumbel_masked_depth3": {"policy": "gumbel", "mask": True, "max_depth": 3},
    "gumbel_tree_scaled_4_considered": {
        "policy": "gumbel", "qtransform": functools.partial(completed_by_mix_value_tree_scaled, value_scale=0.1),
        "max_num_considered_actions": 4},
    "puct": {"policy": "muzero"},
    "puct_plain_qtransform": {"policy": "muzero", "plain_qtransform": True},
    "puct_masked_depth2": {"policy": "muzero", "mask": True, "max_depth": 2},
}


def policies(config: dict):
    """-> (mctx's policy, ours), both jitted fn(params, key, invalid_actions) -> PolicyOutput."""
    kwargs = {"num_simulations": SIMULATIONS, "max_depth": config.get("max_depth")}
    if "qtransform" in config:
        kwargs["qtransform"] = config["qtransform"]
    if config["policy"] == "gumbel":
        kwargs["max_num_considered_actions"] = config.get("max_num_considered_actions", 16)
        reference, ours = mctx.gumbel_muzero_policy, batched_search.gumbel_muzero_policy
    else:
        # Plain: ours swaps in search/selection.py's copy; wrapped: ours runs mctx's own.
        kwargs["qtransform"] = (mctx.qtransform_by_parent_and_siblings if config.get("plain_qtransform")
                                else planner.interior_masked(mctx.qtransform_by_parent_and_siblings))
        reference, ours = mctx.muzero_policy, puct.muzero_policy

    def wrap(policy):
        @jax.jit
        def run(params, key, invalid_actions):
            return policy(params, key, root_of(params, invalid_actions), recurrent_fn,
                          invalid_actions=invalid_actions, **kwargs)
        return run

    return wrap(reference), wrap(ours)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_batched_search_builds_mctx_trees_bit_for_bit(name):
    config = CONFIGS[name]
    reference, ours = policies(config)
    depths = []
    for trial in range(TRIALS):
        key = jax.random.PRNGKey(trial)
        params = random_params(jax.random.fold_in(key, 1))
        invalid = None
        if config.get("mask"):
            invalid = jax.random.bernoulli(jax.random.fold_in(key, 2), 0.4, (BATCH, ACTIONS))
            invalid = invalid.at[:, 0].set(False).astype(jnp.float32)  # keep one action legal
        want, got = reference(params, key, invalid), ours(params, key, invalid)
        np.testing.assert_array_equal(got.action, want.action)
        np.testing.assert_array_equal(got.action_weights, want.action_weights)
        leaves_want = jax.tree_util.tree_leaves_with_path(want.search_tree)
        leaves_got = jax.tree.leaves(got.search_tree)
        for (path, w), g in zip(leaves_want, leaves_got, strict=True):
            np.testing.assert_array_equal(g, w, err_msg=f"{name}, trial {trial}: tree field {path}")
        depths.append(_max_depth(want.search_tree))
    # The trials reach past a single level (else the interior rule and backward are untested).
    assert max(depths) >= (config.get("max_depth") or 3), depths


def _max_depth(tree: mctx.Tree) -> int:
    parents = np.asarray(tree.parents)
    deepest = 0
    for row in parents:
        for node in range(len(row)):
            depth, n = 0, node
            while n > 0 and row[n] >= 0:
                n, depth = row[n], depth + 1
            deepest = max(deepest, depth)
    return deepest


@pytest.mark.parametrize("policy", ["gumbel", "muzero"])
def test_plan_gives_the_same_search_with_either_implementation(policy):
    """Through search.plan on the true simulator, where illegal children are masked inside
    the tree too."""
    env = envs.make("chain")
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))[0]
    objective = search.Objective(value=search.Constant(0.0), discount=0.99)
    outs = {impl: search.plan(None, jax.random.PRNGKey(7), states, model=search.SimulatorModel(env),
                              objective=objective,
                              config=search.PlannerConfig(policy=policy, num_simulations=24, implementation=impl))
            for impl in ("glasszero", "mctx")}
    a, b = outs["glasszero"], outs["mctx"]
    np.testing.assert_array_equal(a.action, b.action)
    np.testing.assert_array_equal(a.action_weights, b.action_weights)
    for g, w in zip(jax.tree.leaves(a.tree), jax.tree.leaves(b.tree), strict=True):
        np.testing.assert_array_equal(g, w)


def test_threefry_split_and_uniform_give_jax_randoms_bits():
    keys = jax.random.split(jax.random.PRNGKey(3), 64)
    np.testing.assert_array_equal(threefry.split(keys), jax.vmap(jax.random.split)(keys))
    np.testing.assert_array_equal(threefry.split_one(keys[0], 5), jax.random.split(keys[0], 5))
    np.testing.assert_array_equal(threefry.uniform(keys, ACTIONS),
                                  jax.vmap(lambda k: jax.random.uniform(k, (ACTIONS,)))(keys))


def test_unrolled_reductions_match_numpys_on_ties_nans_and_infinities():
    rows = np.array([[1.0, 3.0, 3.0, -1.0], [np.nan, 2.0, np.nan, 0.0], [-np.inf] * 4, [0.0, -0.0, 5.0, np.inf],
                     [2.0, np.nan, 7.0, 1.0]], np.float32)
    np.testing.assert_array_equal(selection.argmax(jnp.asarray(rows)), jnp.argmax(jnp.asarray(rows), axis=-1))
    np.testing.assert_array_equal(selection.amax(jnp.asarray(rows)), np.max(rows, axis=-1))
    np.testing.assert_array_equal(selection.amin(jnp.asarray(rows)), np.min(rows, axis=-1))


@pytest.mark.parametrize("policy", ["gumbel", "muzero"])
def test_a_wide_batch_through_plan_matches_mctx(policy):
    """B=256, A=18 through search.plan against plain mctx, as the throughput benchmark runs them:
    at these shapes XLA compiles reductions differently than at the tiny ones above (a copy of
    a Q-transform once differed from mctx's in the last bit of the action weights here)."""
    graphdef, params = build_network(18, "mlp")
    fns = make_implementations(graphdef, 18, policy, 8, None)
    obs = jax.random.normal(jax.random.PRNGKey(2), (256, OBSERVATION_DIM))
    ours, reference = (fns[name](params, jax.random.PRNGKey(3), obs) for name in ("glasszero", "mctx"))
    np.testing.assert_array_equal(ours[0], reference[0])
    np.testing.assert_array_equal(ours[1], reference[1])
