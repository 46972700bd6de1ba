"""A Q-transform for Gumbel MuZero that scales Q-values by the whole tree's value range.

mctx's `qtransform_completed_by_mix_value` (the Gumbel MuZero default) rescales a node's
completed Q-values by the min and max over *that node's children*. With two actions
(CartPole) that maps any gap between the two, however small against the noise of a
learned value, to exactly 0 and 1, so every search target says "this action, with
probability ~0.997" and the policy prior is trained on the sign of noise.
`completed_by_mix_value_tree_scaled` rescales by the min and max over every visited node
of the tree and the node's completed Q-values (close to MuZero's MinMaxStats, which tracks
the Q-values seen in the tree), so a gap counts in proportion to how values vary across it.

Written here, not taken from mctx, because mctx offers only the per-node rescaling; the
completion (mixed value for unvisited actions) is mctx's own, through its helpers.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import mctx
from mctx._src import qtransforms as mctx_qtransforms


def completed_by_mix_value_tree_scaled(tree: mctx.Tree, node_index: chex.Numeric, *, value_scale: float = 0.1,
                                       maxvisit_init: float = 50.0, epsilon: float = 1e-8) -> chex.Array:
    """[A] transformed Q-values of node `node_index` of an unbatched tree:

        (maxvisit_init + max_a N(a)) * value_scale * (q_completed - v_min) / (v_max - v_min)

    with v_min, v_max over the visited nodes' values and the completed Q-values.
    """
    chex.assert_shape(node_index, ())
    qvalues = tree.qvalues(node_index)
    visit_counts = tree.children_visits[node_index]
    prior_probs = jax.nn.softmax(tree.children_prior_logits[node_index])
    value = mctx_qtransforms._compute_mixed_value(tree.raw_values[node_index], qvalues=qvalues,
                                                  visit_counts=visit_counts, prior_probs=prior_probs)
    completed = mctx_qtransforms._complete_qvalues(qvalues, visit_counts=visit_counts, value=value)
    visited = tree.node_visits > 0
    low = jnp.minimum(jnp.min(jnp.where(visited, tree.node_values, jnp.inf)), jnp.min(completed))
    high = jnp.maximum(jnp.max(jnp.where(visited, tree.node_values, -jnp.inf)), jnp.max(completed))
    scaled = (completed - low) / jnp.maximum(high - low, epsilon)
    return (maxvisit_init + jnp.max(visit_counts)) * value_scale * scaled
