"""mctx's action-selection rules and Q-transforms with their max, min and argmax unrolled.

Every function here is its mctx namesake line for line (same operations, same order),
except that reductions whose result does not depend on the order they visit the
actions (max, min, argmax) are written as a chain of elementwise `maximum`/`minimum`/
`where` over the A action columns. On the CPU, XLA runs each reduction over a short
minor axis ([B, 18] -> [B]) as an op of its own, the argmax (a variadic reduce) among the
dearest in our traces; the unrolled chain fuses with its neighbours into one elementwise
kernel, so a selection step runs fewer ops (benchmarks/results/search_profile.md counts them). Sums keep `jnp.sum`, so the trees are
bit-identical to mctx's (tests/test_batched_search.py). One caveat: XLA may order a sum
differently in another fusion context, changing its last bit; that is harmless inside the
tree (an argmax would have to sit on a tie to the last bit) but would show in the action
weights, so the policies compute those with mctx's own Q-transform.

Why copies and not mctx's functions: the reductions sit inside them; mctx offers no hook.
`fast(qtransform)` maps mctx's own Q-transforms (plain or in a functools.partial) to the
copies here and leaves any other Q-transform as it is.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx
from mctx._src import seq_halving

UNROLL_UP_TO = 64  # actions; wider action spaces keep XLA's reductions (the chain would grow long)


def argmax(x: jax.Array) -> jax.Array:
    """jnp.argmax over the last axis: the first maximum, or the first NaN if any."""
    num = x.shape[-1]
    if num > UNROLL_UP_TO:
        return jnp.argmax(x, axis=-1).astype(jnp.int32)
    best, index = x[..., 0], jnp.zeros(x.shape[:-1], jnp.int32)
    for a in range(1, num):
        value = x[..., a]
        better = (value > best) | (jnp.isnan(value) & ~jnp.isnan(best))
        best = jnp.where(better, value, best)
        index = jnp.where(better, a, index)
    return index


def _fold(x: jax.Array, op, keepdims: bool) -> jax.Array:
    result = x[..., 0]
    for a in range(1, x.shape[-1]):
        result = op(result, x[..., a])
    return result[..., None] if keepdims else result


def amax(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """jnp.max over the last axis (NaN propagates, as there)."""
    if x.shape[-1] > UNROLL_UP_TO:
        return jnp.max(x, axis=-1, keepdims=keepdims)
    return _fold(x, jnp.maximum, keepdims)


def amin(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """jnp.min over the last axis (NaN propagates, as there)."""
    if x.shape[-1] > UNROLL_UP_TO:
        return jnp.min(x, axis=-1, keepdims=keepdims)
    return _fold(x, jnp.minimum, keepdims)


def softmax(x: jax.Array) -> jax.Array:
    """jax.nn.softmax over the last axis (its max with initial -inf, its exp and sum)."""
    x_max = jnp.maximum(amax(x, keepdims=True), -jnp.inf)
    unnormalized = jnp.exp(x - jax.lax.stop_gradient(x_max))
    return unnormalized / jnp.sum(unnormalized, axis=-1, keepdims=True)


def masked_argmax(to_argmax: jax.Array, invalid_actions: jax.Array | None) -> jax.Array:
    """mctx.action_selection.masked_argmax."""
    if invalid_actions is not None:
        to_argmax = jnp.where(invalid_actions, -jnp.inf, to_argmax)
    return argmax(to_argmax)


def completed_by_mix_value(tree: mctx.Tree, node_index, *, value_scale: float = 0.1, maxvisit_init: float = 50.0,
                           rescale_values: bool = True, use_mixed_value: bool = True,
                           epsilon: float = 1e-8) -> jax.Array:
    """mctx.qtransform_completed_by_mix_value: [A] completed, rescaled Q-values of one node."""
    qvalues = tree.qvalues(node_index)
    visit_counts = tree.children_visits[node_index]
    raw_value = tree.raw_values[node_index]
    prior_probs = softmax(tree.children_prior_logits[node_index])
    value = mixed_value(raw_value, qvalues, visit_counts, prior_probs) if use_mixed_value else raw_value
    completed = jnp.where(visit_counts > 0, qvalues, value)
    if rescale_values:
        low, high = amin(completed, keepdims=True), amax(completed, keepdims=True)
        completed = (completed - low) / jnp.maximum(high - low, epsilon)
    visit_scale = maxvisit_init + amax(visit_counts)
    return visit_scale * value_scale * completed


def mixed_value(raw_value, qvalues, visit_counts, prior_probs) -> jax.Array:
    """mctx's _compute_mixed_value (sums only: kept as they are)."""
    sum_visit_counts = jnp.sum(visit_counts, axis=-1)
    prior_probs = jnp.maximum(jnp.finfo(prior_probs.dtype).tiny, prior_probs)
    sum_probs = jnp.sum(jnp.where(visit_counts > 0, prior_probs, 0.0), axis=-1)
    weighted_q = jnp.sum(jnp.where(visit_counts > 0, prior_probs * qvalues / jnp.where(visit_counts > 0, sum_probs, 1.0),
                                   0.0), axis=-1)
    return (raw_value + sum_visit_counts * weighted_q) / (sum_visit_counts + 1)


def by_parent_and_siblings(tree: mctx.Tree, node_index, *, epsilon: float = 1e-8) -> jax.Array:
    """mctx.qtransform_by_parent_and_siblings: [A] Q-values scaled to [0, 1] by the node's
    value and its visited children's."""
    qvalues = tree.qvalues(node_index)
    visit_counts = tree.children_visits[node_index]
    node_value = tree.node_values[node_index]
    safe_qvalues = jnp.where(visit_counts > 0, qvalues, node_value)
    min_value = jnp.minimum(node_value, amin(safe_qvalues))
    max_value = jnp.maximum(node_value, amax(safe_qvalues))
    completed_by_min = jnp.where(visit_counts > 0, qvalues, min_value)
    return (completed_by_min - min_value) / jnp.maximum(max_value - min_value, epsilon)


_FAST = {mctx.qtransform_completed_by_mix_value: completed_by_mix_value,
         mctx.qtransform_by_parent_and_siblings: by_parent_and_siblings}


def fast(qtransform):
    """The copy here of one of mctx's Q-transforms (keeping a partial's arguments), else qtransform."""
    if isinstance(qtransform, functools.partial) and qtransform.func in _FAST and not qtransform.args:
        return functools.partial(_FAST[qtransform.func], **qtransform.keywords)
    return _FAST.get(qtransform, qtransform)


def gumbel_root(rng_key, tree: mctx.Tree, node_index, *, num_simulations: int, max_num_considered_actions: int,
                qtransform) -> jax.Array:
    """mctx's gumbel_muzero_root_action_selection: Sequential Halving with Gumbel at the root."""
    del rng_key
    visit_counts = tree.children_visits[node_index]
    prior_logits = tree.children_prior_logits[node_index]
    completed_qvalues = qtransform(tree, node_index)
    table = jnp.array(seq_halving.get_table_of_considered_visits(max_num_considered_actions, num_simulations))
    num_valid_actions = jnp.sum(1 - tree.root_invalid_actions, axis=-1).astype(jnp.int32)
    num_considered = jnp.minimum(max_num_considered_actions, num_valid_actions)
    simulation_index = jnp.sum(visit_counts, -1)  # at the root, the sum of visit counts
    considered_visit = table[num_considered, simulation_index]
    to_argmax = score_considered(considered_visit, tree.extra_data.root_gumbel, prior_logits, completed_qvalues,
                                 visit_counts)
    return masked_argmax(to_argmax, tree.root_invalid_actions)


def score_considered(considered_visit, gumbel, logits, normalized_qvalues, visit_counts) -> jax.Array:
    """mctx's seq_halving.score_considered."""
    low_logit = -1e9
    logits = logits - amax(logits, keepdims=True)
    penalty = jnp.where(visit_counts == considered_visit, 0, -jnp.inf)
    return jnp.maximum(low_logit, gumbel + logits + normalized_qvalues) + penalty


def gumbel_interior(rng_key, tree: mctx.Tree, node_index, depth, *, qtransform) -> jax.Array:
    """mctx's gumbel_muzero_interior_action_selection: deterministic, visit counts tracking
    softmax(prior_logits + completed Q)."""
    del rng_key, depth
    visit_counts = tree.children_visits[node_index]
    prior_logits = tree.children_prior_logits[node_index]
    completed_qvalues = qtransform(tree, node_index)
    probs = softmax(prior_logits + completed_qvalues)
    to_argmax = probs - visit_counts / (1 + jnp.sum(visit_counts, keepdims=True, axis=-1))
    return argmax(to_argmax)
