"""PUCT (MuZero) search on the batch-first search of search/batched_search.py.

`muzero_policy` is `mctx.muzero_policy` with the same arguments, keys and output; the
search underneath is `batched_search.search`, which also drops mctx's
`lax.cond(depth == 0, root_fn, interior_fn)`: under vmap XLA evaluates both branches at
every step, and for PUCT both are the same rule (the root one only adds the root's
invalid-action mask), so the root step runs the rule with depth 0 and the interior steps
run it alone.

The PUCT rule's tie-breaking noise (a `jax.random.uniform` per node visit) is drawn with
search/threefry.py (the same bits in one fused op instead of a rolled hash loop); it
still costs a key split and a hash per row and level: `tie_break_noise=False` drops it, which is faster still but breaks
exact ties by the first index instead of at random, so results can differ from mctx where
children tie (e.g. equal priors and no visits).

mctx's private policy helpers carry no stability promise; pyproject.toml pins mctx to the
tested release, and tests/test_batched_search.py pins this module's output to
`mctx.muzero_policy` for the day the pin is raised.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mctx
from mctx._src import policies as mctx_policies

from search import batched_search, selection, threefry


def puct_selection(rng_key, tree, node_index, depth, *, pb_c_init: float, pb_c_base: float, qtransform,
                   tie_break_noise: bool):
    """mctx's `muzero_action_selection` line for line, with search/selection.py's unrolled
    softmax max and argmax, and its tie-breaking noise drawn by search.threefry (the same
    bits as jax.random.uniform, in one fused op), or without it."""
    visit_counts = tree.children_visits[node_index]
    node_visit = tree.node_visits[node_index]
    pb_c = pb_c_init + jnp.log((node_visit + pb_c_base + 1.0) / pb_c_base)
    prior_probs = selection.softmax(tree.children_prior_logits[node_index])
    policy_score = jnp.sqrt(node_visit) * pb_c * prior_probs / (visit_counts + 1)
    to_argmax = qtransform(tree, node_index) + policy_score
    if tie_break_noise:
        to_argmax = to_argmax + 1e-7 * _materialized_noise(rng_key, tree.num_actions, depth)
    return selection.masked_argmax(to_argmax, tree.root_invalid_actions * (depth == 0))


def _materialized_noise(rng_key, num_actions: int, depth) -> jax.Array:
    """jax.random.uniform(rng_key, (num_actions,)) computed once: XLA would otherwise fuse the
    (unrolled, ~250-op) hash into each consumer of the selected action and run it several
    times. A conditional's result is materialized; its predicate (depth >= 0, always true)
    is one XLA cannot fold away."""
    return jax.lax.cond(jnp.asarray(depth) >= 0, lambda k: threefry.uniform(k[None], num_actions)[0],
                        lambda k: jnp.zeros((num_actions,), jnp.float32), rng_key)


def muzero_policy(params, rng_key, root, recurrent_fn, num_simulations: int, invalid_actions=None,
                  max_depth: int | None = None, *, qtransform=mctx.qtransform_by_parent_and_siblings,
                  dirichlet_fraction: float = 0.25, dirichlet_alpha: float = 0.3, pb_c_init: float = 1.25,
                  pb_c_base: float = 19652.0, temperature: float = 1.0,
                  tie_break_noise: bool = True) -> mctx.PolicyOutput:
    """Drop-in for `mctx.muzero_policy` (same arguments, same keys, same output)."""
    rng_key, dirichlet_key, search_key = jax.random.split(rng_key, 3)
    noisy_logits = mctx_policies._get_logits_from_probs(mctx_policies._add_dirichlet_noise(
        dirichlet_key, jax.nn.softmax(root.prior_logits), dirichlet_fraction=dirichlet_fraction,
        dirichlet_alpha=dirichlet_alpha))
    root = root.replace(prior_logits=mctx_policies._mask_invalid_actions(noisy_logits, invalid_actions))
    rule = functools.partial(puct_selection, pb_c_init=pb_c_init, pb_c_base=pb_c_base,
                             qtransform=selection.fast(qtransform), tie_break_noise=tie_break_noise)
    tree = batched_search.search(params, search_key, root=root, recurrent_fn=recurrent_fn,
                                 root_action_selection_fn=functools.partial(rule, depth=0),
                                 interior_action_selection_fn=rule, num_simulations=num_simulations,
                                 max_depth=max_depth, invalid_actions=invalid_actions,
                                 selection_uses_keys=tie_break_noise)
    action_weights = tree.summary().visit_probs
    action_logits = mctx_policies._apply_temperature(mctx_policies._get_logits_from_probs(action_weights),
                                                     temperature)
    action = jax.random.categorical(rng_key, action_logits)
    return mctx.PolicyOutput(action=action, action_weights=action_weights, search_tree=tree)
