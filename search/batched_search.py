"""mctx's tree search rewritten batch-first: the same trees, the same action weights, faster.

    tree = search(params, key, root=root, recurrent_fn=recurrent_fn,
                  root_action_selection_fn=..., interior_action_selection_fn=...,
                  num_simulations=50)                      # an mctx.Tree, [B, N, ...]
    gumbel_muzero_policy(...)                              # drop-in for mctx's (PUCT: search/puct.py)

`mctx.search` writes one search for one tree and `jax.vmap`s it over the batch. Two of its
loops are `lax.while_loop`s inside that vmap, and a vmapped while loop whose condition
differs between rows runs until the last row is done, selecting between the old and new
carry of *every* row at every step. The backward pass carries the whole tree
([B, N, A] arrays), so each step up a path copies the whole tree once (profile:
benchmarks/results/search_profile.md). This module keeps mctx's data (`mctx.Tree`), its
selection rules and Q-transforms (mctx's own, or the exact copies of search/selection.py)
and its key stream, and changes how the loops run:

* selection walks all rows down together in one batched while loop whose carry is a
  few [B] and [B, D] arrays (the tree is read, never carried), and records each row's
  path; the first step of every simulation is at the root for every row, so the root
  rule runs once, unconditionally, and the loop after it runs the interior rule alone
  (mctx's `lax.cond(depth == 0, ...)` evaluates both rules at every step under vmap);
* backward walks the recorded paths up one level at a time for all rows together,
  reading and writing [B] elements per level with the tree as the loop's carry (mctx's
  vmapped backward loop selects between the old and new tree, whole, at every step);
* while no simulation can stop at an expanded node (max_depth >= num_simulations, the
  default), simulation `s` always creates node `s + 1` in every row, so the new node's
  rows are written with one dynamic-update-slice instead of a per-row scatter;
* key splits use search/threefry.py (JAX's hash unrolled: the same bits, one fused op).

Each tree value is computed by the same floating-point operations in the same order as
in mctx, so trees and action weights are bit-identical (tests/test_batched_search.py checks
it over many random trees, both policies, masks and depth caps, and at B=256, A=18).

mctx's private `_src` helpers (tree instantiation, policy helpers) are reused; pyproject
pins mctx to the tested release, and the equality tests guard the day the pin moves.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import mctx
from mctx._src import action_selection as mctx_selection
from mctx._src import policies as mctx_policies
from mctx._src import search as mctx_search
from mctx._src import seq_halving

from search import selection, threefry

UNVISITED = mctx.Tree.UNVISITED
ROOT = mctx.Tree.ROOT_INDEX


class Paths(NamedTuple):
    """Where one simulation went in every row of the batch ([B] rows, D = max_depth).

    nodes: [B, D] int32, the node at each depth from which an action was taken
      (column 0 is the root); columns at or past `length` are undefined.
    actions: [B, D] int32, the action taken at each depth.
    length: [B] int32, edges from the root to the leaf (>= 1).
    leaf: [B] int32, the node reached (`UNVISITED` where the action was never expanded).
    """

    nodes: jax.Array
    actions: jax.Array
    length: jax.Array
    leaf: jax.Array


def select(keys: jax.Array | None, tree: mctx.Tree, root_action_selection_fn, interior_action_selection_fn,
           max_depth: int) -> Paths:
    """Walks every row from the root until an unexpanded action or `max_depth` edges.

    keys: [B] keys, one per row, consumed as `mctx.search.simulate` consumes them (one
      split per step), or None when the selection functions ignore their key.
    The tree is an mctx.Tree with a leading batch axis; the selection functions take
    one row's tree, as mctx's do, and are vmapped here.
    """
    batch, _num_nodes = tree.node_visits.shape
    rows = jnp.arange(batch)
    depth_dtype = tree.children_prior_logits.dtype  # mctx counts depth in the logits' dtype

    def next_key(keys):
        if keys is None:
            return None, None
        split = threefry.split(keys)  # jax.random.split per row, the same bits
        return split[:, 0], split[:, 1]

    keys, step_keys = next_key(keys)
    root_nodes = jnp.full([batch], ROOT, jnp.int32)
    action = jax.vmap(root_action_selection_fn)(step_keys, tree, root_nodes)
    nodes = jnp.zeros([batch, max_depth], jnp.int32)
    actions = jnp.zeros([batch, max_depth], jnp.int32).at[:, 0].set(action)
    leaf = tree.children_index[rows, ROOT, action]
    continuing = (leaf != UNVISITED) & (1 < max_depth)
    state = (keys, jnp.int32(1), jnp.ones([batch], jnp.int32), leaf, continuing, nodes, actions)

    def cond(state):
        return jnp.any(state[4])

    def body(state):
        keys, depth, length, leaf, continuing, nodes, actions = state
        new_keys, step_keys = next_key(keys)
        node = jnp.where(continuing, leaf, ROOT)
        action = jax.vmap(interior_action_selection_fn, in_axes=(0, 0, 0, None))(
            step_keys, tree, node, depth.astype(depth_dtype))
        nodes = nodes.at[:, depth].set(jnp.where(continuing, node, nodes[:, depth]))
        actions = actions.at[:, depth].set(jnp.where(continuing, action, actions[:, depth]))
        leaf = jnp.where(continuing, tree.children_index[rows, node, action], leaf)
        length = jnp.where(continuing, depth + 1, length)
        if keys is not None:
            keys = jnp.where(continuing[:, None], new_keys, keys)
        continuing = continuing & (leaf != UNVISITED) & (depth + 1 < max_depth)
        return keys, depth + 1, length, leaf, continuing, nodes, actions

    if max_depth > 1:
        _, _, length, leaf, _, nodes, actions = jax.lax.while_loop(cond, body, state)
    else:
        length = jnp.ones([batch], jnp.int32)
    return Paths(nodes, actions, length, leaf)


def expand_new_node(params, key, tree: mctx.Tree, recurrent_fn, parent: jax.Array, action: jax.Array,
                    node: int | jax.Array) -> mctx.Tree:
    """`mctx.search.expand` for the case where every row creates the same new node `node`
    (a scalar): its rows are written with dynamic-update-slices, the parents' edges with
    scatters. parent, action: [B] int32."""
    batch = parent.shape[0]
    rows = jnp.arange(batch)
    embedding = jax.tree.map(lambda x: x[rows, parent], tree.embeddings)
    step, embedding = recurrent_fn(params, key, action, embedding)

    def write(x, value):  # x [B, N, ...] <- value [B, ...] at column `node`
        return jax.lax.dynamic_update_index_in_dim(x, value.astype(x.dtype), node, axis=1)

    return tree.replace(
        children_prior_logits=write(tree.children_prior_logits, step.prior_logits),
        raw_values=write(tree.raw_values, step.value),
        node_values=write(tree.node_values, step.value),
        node_visits=write(tree.node_visits, jnp.ones([batch], jnp.int32)),  # a new node: 0 + 1
        embeddings=jax.tree.map(write, tree.embeddings, embedding),
        children_index=tree.children_index.at[rows, parent, action].set(node),
        children_rewards=tree.children_rewards.at[rows, parent, action].set(step.reward),
        children_discounts=tree.children_discounts.at[rows, parent, action].set(step.discount),
        parents=write(tree.parents, parent),
        action_from_parent=write(tree.action_from_parent, action),
    )


def backward(tree: mctx.Tree, paths: Paths, leaf: jax.Array) -> mctx.Tree:
    """`mctx.search.backward` for every row at once.

    From the deepest level of the longest path up to the root, one level per step: every
    row still on its path reads the edge below its node, G <- reward + discount * G, the
    node's value becomes (value * visits + G) / (visits + 1), its visit count grows by
    one, and the edge takes the child's new value and count. A row past its path's end
    leaves the tree alone (its writes point out of range, and mode="drop" discards them).
    Each step reads and writes [B] elements; the tree is carried, never copied.
    leaf: [B] int32, the expanded node at the end of each path.
    """
    batch = paths.nodes.shape[0]
    num_nodes = tree.node_visits.shape[1]
    rows = jnp.arange(batch)
    leaf_value = tree.node_values[rows, leaf]
    longest = jnp.max(paths.length)

    def level(i, carry):
        tree, returns, child_value = carry
        k = longest - 1 - i
        active = k < paths.length
        node, action = paths.nodes[:, k], paths.actions[:, k]
        returns = jnp.where(active, tree.children_rewards[rows, node, action]
                            + tree.children_discounts[rows, node, action] * returns, returns)
        visits = tree.node_visits[rows, node]
        value = (tree.node_values[rows, node] * visits + returns) / (visits + 1.0)
        node = jnp.where(active, node, num_nodes)
        tree = tree.replace(
            node_values=tree.node_values.at[rows, node].set(value, mode="drop"),
            node_visits=tree.node_visits.at[rows, node].set(visits + 1, mode="drop"),
            children_values=tree.children_values.at[rows, node, action].set(child_value, mode="drop"),
            children_visits=tree.children_visits.at[rows, node, action].add(1, mode="drop"),
        )
        return tree, returns, jnp.where(active, value, child_value)

    tree, _, _ = jax.lax.fori_loop(0, longest, level, (tree, leaf_value, leaf_value))
    return tree


def search(params, rng_key, *, root: mctx.RootFnOutput, recurrent_fn, root_action_selection_fn,
           interior_action_selection_fn, num_simulations: int, max_depth: int | None = None,
           invalid_actions: jax.Array | None = None, extra_data=None, selection_uses_keys: bool = True) -> mctx.Tree:
    """`mctx.search` with the same arguments and the same result (see the module docstring).

    selection_uses_keys: False when neither selection function reads its key (Gumbel
      MuZero's); the per-row key stream is then not computed at all.
    """
    batch = root.value.shape[0]
    rows = jnp.arange(batch)
    max_depth = num_simulations if max_depth is None else max_depth
    if invalid_actions is None:
        invalid_actions = jnp.zeros_like(root.prior_logits)
    # At simulation s the tree holds s + 1 nodes, none deeper than s < num_simulations, so
    # without a tighter depth cap every simulation ends at an unexpanded action.
    always_new = max_depth >= num_simulations

    def body(sim, loop_state):  # mctx.search's loop body, key for key
        rng_key, tree = loop_state
        rng_key, simulate_key, expand_key = threefry.split_one(rng_key, 3)
        keys = threefry.split_one(simulate_key, batch) if selection_uses_keys else None
        # The name scopes label the ops for benchmarks/search_profile.py.
        with jax.named_scope("select"):
            paths = select(keys, tree, root_action_selection_fn, interior_action_selection_fn, max_depth)
        with jax.named_scope("expand"):
            last = paths.length - 1
            parent = paths.nodes[rows, last]
            action = paths.actions[rows, last]
            if always_new:
                leaf = jnp.full([batch], sim + 1, jnp.int32)
                tree = expand_new_node(params, expand_key, tree, recurrent_fn, parent, action, sim + 1)
            else:
                leaf = jnp.where(paths.leaf == UNVISITED, sim + 1, paths.leaf)
                tree = mctx_search.expand(params, expand_key, tree, recurrent_fn, parent, action, leaf)
        with jax.named_scope("backward"):
            tree = backward(tree, paths, leaf)
        return rng_key, tree

    tree = mctx_search.instantiate_tree_from_root(root, num_simulations, root_invalid_actions=invalid_actions,
                                                  extra_data=extra_data)
    _, tree = jax.lax.fori_loop(0, num_simulations, body, (rng_key, tree))
    return tree


def gumbel_muzero_policy(params, rng_key, root, recurrent_fn, num_simulations: int, invalid_actions=None,
                         max_depth: int | None = None, *, qtransform=mctx.qtransform_completed_by_mix_value,
                         max_num_considered_actions: int = 16, gumbel_scale=1.0,
                         tree_qtransform=None) -> mctx.PolicyOutput:
    """Drop-in for `mctx.gumbel_muzero_policy` (same arguments, keys and output). The wrapper
    around the search is mctx's line for line; the selection rules are search/selection.py's
    copies with unrolled max/argmax.

    tree_qtransform: the Q-transform the selection rules use inside the tree (default:
      `selection.fast(qtransform)`, the exact copy of an mctx Q-transform). The action
      weights use `qtransform` itself: computed once per search, its sums then run in the
      same XLA fusions as in mctx, so the weights match mctx's to the last bit (a copy's
      sums can be reordered by XLA in another context, changing the last bit).
    """
    tree_qtransform = selection.fast(qtransform) if tree_qtransform is None else tree_qtransform
    root = root.replace(prior_logits=mctx_policies._mask_invalid_actions(root.prior_logits, invalid_actions))
    rng_key, gumbel_rng = jax.random.split(rng_key)
    gumbel = gumbel_scale * jax.random.gumbel(gumbel_rng, shape=root.prior_logits.shape,
                                              dtype=root.prior_logits.dtype)
    extra_data = mctx_selection.GumbelMuZeroExtraData(root_gumbel=gumbel)
    tree = search(
        params, rng_key, root=root, recurrent_fn=recurrent_fn,
        root_action_selection_fn=functools.partial(
            selection.gumbel_root, num_simulations=num_simulations,
            max_num_considered_actions=max_num_considered_actions, qtransform=tree_qtransform),
        interior_action_selection_fn=functools.partial(selection.gumbel_interior, qtransform=tree_qtransform),
        num_simulations=num_simulations, max_depth=max_depth, invalid_actions=invalid_actions,
        extra_data=extra_data, selection_uses_keys=False)
    summary = tree.summary()
    considered_visit = jnp.max(summary.visit_counts, axis=-1, keepdims=True)
    completed_qvalues = jax.vmap(qtransform, in_axes=[0, None])(tree, tree.ROOT_INDEX)
    to_argmax = seq_halving.score_considered(considered_visit, gumbel, root.prior_logits, completed_qvalues,
                                             summary.visit_counts)
    action = mctx_selection.masked_argmax(to_argmax, invalid_actions)
    completed_search_logits = mctx_policies._mask_invalid_actions(root.prior_logits + completed_qvalues,
                                                                  invalid_actions)
    return mctx.PolicyOutput(action=action, action_weights=jax.nn.softmax(completed_search_logits),
                             search_tree=tree)
