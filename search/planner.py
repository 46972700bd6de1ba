"""The planner: Gumbel MuZero (default) or PUCT search under an Objective.

The search is search/batched_search.py's batch-first rewrite of mctx's (the same trees
and action weights, faster); `PlannerConfig(implementation="mctx")` calls mctx's policies.

    out = plan(params, key, root_input, model=model, objective=objective, config=config)
    out.action [B], out.action_weights [B, A], out.root_value [B], out.tree (mctx.Tree)

Leaf values and edge rewards come from the objective, never straight from the
networks. Illegal actions are masked at the root (mctx does this) and, for
models that know legality (the true simulator), at interior nodes too: mctx
masks only the root, so we mark illegal children with mctx's own masked-logit
value and wrap the Q-transform so that they can never win the argmax.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import chex
import jax
import jax.numpy as jnp
import mctx
import numpy as np

from search import batched_search, puct, selection
from search.objective import Edge, Leaf, Objective, call_reward_fn, call_value_fn
from search.qtransforms import completed_by_mix_value_tree_scaled

# The logit mctx gives masked actions (policies._mask_invalid_actions); we use the
# same marker for interior nodes, so one test finds illegal children everywhere.
MASKED_LOGIT = float(jnp.finfo(jnp.float32).min)
# What an illegal child's Q becomes inside action selection: below any real Q.
MASKED_Q = -1e9


@dataclass(frozen=True)
class PlannerConfig:
    """How the tree search runs."""

    policy: Literal["gumbel", "muzero"] = "gumbel"
    """'gumbel': Gumbel MuZero (sequential halving at the root; policy improvement
    with few simulations). 'muzero': PUCT with Dirichlet noise at the root."""
    num_simulations: int = 16
    """Simulations (node expansions) per search."""
    max_depth: int | None = None
    """Cap on the depth a simulation descends (None: no cap beyond num_simulations)."""
    max_num_considered_actions: int = 16
    """Gumbel: actions sampled at the root for sequential halving."""
    gumbel_scale: float = 1.0
    """Gumbel: noise scale at the root; 0 gives a deterministic (evaluation) search."""
    gumbel_q_scaling: Literal["siblings", "tree"] = "siblings"
    """Gumbel: rescale a node's Q-values by the min-max of its children ('siblings', mctx's default) or of
    every value in the tree ('tree', MuZero's MinMaxStats; see search/qtransforms.py)."""
    gumbel_value_scale: float = 0.1
    """Gumbel: c_scale of sigma(q) = (50 + max visits) x c_scale x rescaled q; smaller softens the targets."""
    dirichlet_alpha: float = 0.3
    """PUCT: concentration of the root Dirichlet noise."""
    dirichlet_fraction: float = 0.25
    """PUCT: weight of the Dirichlet noise in the root prior (0 for evaluation)."""
    pb_c_init: float = 1.25
    """PUCT: exploration constant c1."""
    pb_c_base: float = 19652.0
    """PUCT: exploration constant c2."""
    temperature: float = 1.0
    """PUCT: act proportionally to visits^(1/temperature); 0 is greedy."""
    implementation: Literal["glasszero", "mctx"] = "glasszero"
    """'glasszero': the batch-first search of search/batched_search.py (the same trees and action
    weights as mctx, faster); 'mctx': mctx.gumbel_muzero_policy / mctx.muzero_policy, the reference."""
    tie_break_noise: bool = True
    """PUCT ('glasszero' implementation): break exact ties at random as mctx does; False is
    faster but breaks ties by the first index (results then differ from mctx on ties)."""

    def __post_init__(self):
        if self.policy not in ("gumbel", "muzero"):
            raise ValueError(f"PlannerConfig.policy must be 'gumbel' or 'muzero', got {self.policy!r}")
        if self.num_simulations < 1:
            raise ValueError(f"PlannerConfig.num_simulations must be >= 1, got {self.num_simulations}")
        if self.gumbel_value_scale <= 0:
            raise ValueError(f"PlannerConfig.gumbel_value_scale must be > 0, got {self.gumbel_value_scale}")
        if self.gumbel_q_scaling not in ("siblings", "tree"):
            raise ValueError(f"PlannerConfig.gumbel_q_scaling must be 'siblings' or 'tree', got {self.gumbel_q_scaling!r}")
        if self.implementation not in ("glasszero", "mctx"):
            raise ValueError(f"PlannerConfig.implementation must be 'glasszero' or 'mctx', "
                             f"got {self.implementation!r}")
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError(f"PlannerConfig.max_depth must be >= 1 or None, got {self.max_depth}")


class SearchOutput(NamedTuple):
    """The result of one batched search.

    action: [B] int32, the action to take.
    action_weights: [B, A] float32, the policy target the search proposes.
    root_value: [B] float32, the search's value estimate of the root.
    tree: the `mctx.Tree` ([B, N, ...]), for inspection and rendering.
    """

    action: jax.Array
    action_weights: jax.Array
    root_value: jax.Array
    tree: mctx.Tree


def mask_logits(logits: jax.Array, action_mask: jax.Array | None) -> jax.Array:
    """[B, A] logits with illegal actions set to MASKED_LOGIT (as mctx does at the root)."""
    if action_mask is None:
        return logits
    logits = logits - jnp.max(logits, axis=-1, keepdims=True)
    return jnp.where(action_mask, logits, MASKED_LOGIT)


def interior_masked(qtransform):
    """Wraps an mctx Q-transform so illegal children (masked logits) never get selected.

    Both mctx interior selections score children by their Q plus a prior term;
    an illegal child has prior 0 but could still win on Q (PUCT) or on the
    visit-count balance, so its Q is pushed below every legal child's.
    """

    def qtransform_masked(tree: mctx.Tree, node_index: jax.Array) -> jax.Array:
        q = qtransform(tree, node_index)
        illegal = tree.children_prior_logits[node_index] <= MASKED_LOGIT
        return jnp.where(illegal, MASKED_Q, q)

    return qtransform_masked


def _objective_value(objective: Objective, model, node, batch: int, features: jax.Array | None) -> jax.Array:
    if objective.needs_learned_value and node.learned_value is None:
        raise ValueError(f"{objective.value} reads the learned value head, but {type(model).__name__} "
                         f"has none; use a hand-specified value (search.FeatureValue, search.Constant)")
    return call_value_fn(objective.value, Leaf(node.embedding, features, node.learned_value), batch)


def make_root(params, root_input, model, objective: Objective, batch: int):
    """-> (mctx.RootFnOutput, root action mask [B, A] or None)."""
    node = model.root(params, root_input)
    chex.assert_shape(node.prior_logits, (batch, model.num_actions))  # the model's output, into mctx
    features = model.features(params, node.embedding) if objective.needs_features else None
    value = _objective_value(objective, model, node, batch, features)
    return mctx.RootFnOutput(prior_logits=node.prior_logits, value=value,
                             embedding=node.embedding), node.action_mask


def make_recurrent_fn(model, objective: Objective, batch: int):
    """The mctx recurrent_fn: one model step, rewarded and valued by the objective."""

    def recurrent_fn(params, key, action, embedding):
        del key
        model_reward, alive, node = model.step(params, embedding, action)
        chex.assert_shape([model_reward, alive], (batch,))  # the model's outputs, into mctx
        chex.assert_shape(node.prior_logits, (batch, model.num_actions))
        features = model.features(params, node.embedding) if objective.needs_features else None
        reward = call_reward_fn(objective.reward, Edge(model_reward, features), batch)
        value = _objective_value(objective, model, node, batch, features)
        out = mctx.RecurrentFnOutput(
            reward=reward,
            discount=objective.discount * alive,
            prior_logits=mask_logits(node.prior_logits, node.action_mask) if model.masks_interior
            else node.prior_logits,
            value=value,
        )
        return out, node.embedding

    return recurrent_fn


DEFAULT_OBJECTIVE = Objective()  # frozen: one shared default is safe


def plan(params: Any, key: jax.Array, root_input: Any, *, model, objective: Objective = DEFAULT_OBJECTIVE,
         config: PlannerConfig = PlannerConfig(), action_mask: jax.Array | None = None) -> SearchOutput:
    """Searches from a batch of roots and returns the chosen actions and the tree.

    params: the world model's parameters (ignored by the true simulator).
    key: PRNG key.
    root_input: observations [B, *obs_shape] (LearnedModel) or a batched env
      State (SimulatorModel).
    model: a world model (`LearnedModel`, `SimulatorModel`).
    objective: reward source + value function + discount.
    config: `PlannerConfig`.
    action_mask: optional [B, A] bool legal actions at the root (from the env's
      TimeStep); combined with the model's own mask when it has one. Every row needs a
      legal action: called eagerly, plan() refuses a row without one; under jit such a
      row's action is undefined (mctx then picks among the illegal ones).

    Observations with NaN or inf are refused when called eagerly; under jit they give NaN
    values and an undefined action. Observations of another dtype are cast by the networks.
    """
    batch = model.check_root_input(root_input)
    if action_mask is not None and jnp.shape(action_mask) != (batch, model.num_actions):
        raise ValueError(f"plan() got action_mask of shape {jnp.shape(action_mask)}; expected "
                         f"({batch}, {model.num_actions}) bools, True where legal")
    _refuse_bad_values(root_input, action_mask)
    root, model_mask = make_root(params, root_input, model, objective, batch)
    if action_mask is not None:
        action_mask = jnp.asarray(action_mask, bool)
        model_mask = action_mask if model_mask is None else action_mask & model_mask
    invalid_actions = None if model_mask is None else ~model_mask
    recurrent_fn = make_recurrent_fn(model, objective, batch)
    out = _search(params, key, root, recurrent_fn, invalid_actions, config, model.masks_interior)
    if not isinstance(out.root_value, jax.core.Tracer) and int(nonfinite_count(out.tree)):
        raise ValueError(f"{objective} gave NaN or inf at {int(nonfinite_count(out.tree))} places of the search "
                         f"tree; a value or reward function must be finite on every state it can reach "
                         f"(search.check_value_fn tries it on sample states)")
    return out


def nonfinite_count(tree: mctx.Tree) -> jax.Array:
    """[] int32: how many node values and edge rewards of a (batched) tree are NaN or inf. Under
    jit a NaN from the objective cannot raise; the training loop reads this count instead."""
    return (jnp.sum(~jnp.isfinite(tree.node_values)) + jnp.sum(~jnp.isfinite(tree.children_rewards))).astype(jnp.int32)


def _refuse_bad_values(root_input: Any, action_mask: jax.Array | None) -> None:
    """Eager calls only (under jit the values are unknown): NaN/inf observations and mask
    rows with no legal action, with the rows named."""
    if isinstance(root_input, jax.Array | np.ndarray) and not isinstance(root_input, jax.core.Tracer):
        finite = np.isfinite(np.asarray(root_input, np.float32)).reshape(root_input.shape[0], -1).all(axis=1)
        if not finite.all():
            raise ValueError(f"plan() got observations with NaN or inf in rows {np.flatnonzero(~finite).tolist()}")
    if action_mask is not None and not isinstance(action_mask, jax.core.Tracer):
        legal = np.asarray(action_mask, bool).any(axis=-1)
        if not legal.all():
            raise ValueError(f"plan() got an action_mask with no legal action in rows "
                             f"{np.flatnonzero(~legal).tolist()}; every root needs at least one")


def _search(params, key, root, recurrent_fn, invalid_actions, config: PlannerConfig,
            masks_interior: bool) -> SearchOutput:
    def wrap(qtransform):
        return interior_masked(qtransform) if masks_interior else qtransform

    glasszero = config.implementation == "glasszero"
    if config.policy == "gumbel":
        qtransform = functools.partial(completed_by_mix_value_tree_scaled if config.gumbel_q_scaling == "tree"
                                       else mctx.qtransform_completed_by_mix_value, value_scale=config.gumbel_value_scale)
        # glasszero: inside the tree, the exact copy of mctx's Q-transform (search/selection.py).
        extra = {"tree_qtransform": wrap(selection.fast(qtransform))} if glasszero else {}
        policy_fn = batched_search.gumbel_muzero_policy if glasszero else mctx.gumbel_muzero_policy
        out = policy_fn(
            params, key, root, recurrent_fn,
            num_simulations=config.num_simulations,
            invalid_actions=invalid_actions,
            max_depth=config.max_depth,
            qtransform=wrap(qtransform),
            max_num_considered_actions=config.max_num_considered_actions,
            gumbel_scale=config.gumbel_scale,
            **extra,
        )
    else:
        extra = {}
        if glasszero:
            policy_fn = puct.muzero_policy
            extra = {"tie_break_noise": config.tie_break_noise}
        else:
            policy_fn = mctx.muzero_policy
        qtransform = mctx.qtransform_by_parent_and_siblings
        out = policy_fn(
            params, key, root, recurrent_fn,
            num_simulations=config.num_simulations,
            invalid_actions=invalid_actions,
            max_depth=config.max_depth,
            qtransform=wrap(selection.fast(qtransform) if glasszero else qtransform),
            dirichlet_fraction=config.dirichlet_fraction,
            dirichlet_alpha=config.dirichlet_alpha,
            pb_c_init=config.pb_c_init,
            pb_c_base=config.pb_c_base,
            temperature=config.temperature,
            **extra,
        )
    tree = out.search_tree
    return SearchOutput(
        action=out.action,
        action_weights=out.action_weights,
        root_value=tree.summary().value,
        tree=tree,
    )
