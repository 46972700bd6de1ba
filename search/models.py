"""World-model adapters: what the planner steps through inside the tree.

A world model answers three questions, each on a batch:

    root(params, root_input)        -> NodeEval           # the root node
    step(params, embedding, action) -> (reward [B], alive [B], NodeEval)
    features(params, embedding)     -> [B, F]

`NodeEval` carries the node's embedding, its prior logits, the learned value
(None when the model has none) and its legal actions. `alive` is 0 where the
edge ended the episode (the search then discounts everything beyond it away).

Two models ship: `LearnedModel` (MuZero's representation/dynamics/prediction
networks; embedding = latent) and `SimulatorModel` (the true dynamics of a JAX
env; embedding = env state, features exact).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from envs.base import Env, State
from networks.base import resets_value_prefix
from networks.support import logits_to_scalar


class NodeEval(NamedTuple):
    """What a world model says about a batch of nodes.

    embedding: pytree with leading dim B.
    prior_logits: [B, A] float32.
    learned_value: [B] float32 or None.
    action_mask: [B, A] bool, or None when every action is always legal.
    """

    embedding: Any
    prior_logits: jax.Array
    learned_value: jax.Array | None
    action_mask: jax.Array | None


class PrefixEmbedding(NamedTuple):
    """A node of a value-prefix (EfficientZero) model: the latent plus the LSTM's memory.

    latent: [B, H]. lstm_c, lstm_h: [B, L], the value-prefix LSTM state.
    prefix: [B] float32, the value prefix predicted at this node (the sum of rewards
      since the last reset; 0 at a reset).
    depth: [B] int32, steps from the root (the LSTM resets where depth % horizon == 0).
    """

    latent: jax.Array
    lstm_c: jax.Array
    lstm_h: jax.Array
    prefix: jax.Array
    depth: jax.Array


def value_prefix_step(net, node: PrefixEmbedding, action: jax.Array) -> tuple[jax.Array, PrefixEmbedding]:
    """One dynamics step of a value-prefix model: (edge reward [B], child node).

    The edge reward is the difference of consecutive prefixes, prefix(child) -
    prefix(parent); right after a reset the parent's prefix is 0, so the reward is
    the child's prefix itself. Every `horizon` steps from the root the child's LSTM
    state and prefix are reset, as in EfficientZero's search.
    """
    latent, (c, h), prefix_logits = net.dynamics_prefix(node.latent, (node.lstm_c, node.lstm_h), action)
    prefix = logits_to_scalar(prefix_logits)
    reward = prefix - node.prefix
    depth = node.depth + 1
    reset = resets_value_prefix(depth, net.value_prefix_horizon)
    keep = lambda x: jnp.where(reset.reshape(reset.shape + (1,) * (x.ndim - 1)), 0.0, x)
    return reward, PrefixEmbedding(latent, keep(c), keep(h), keep(prefix), depth)


def latent_of(embedding) -> jax.Array:
    """The latent of a learned model's embedding (plain, or inside a PrefixEmbedding)."""
    return embedding.latent if isinstance(embedding, PrefixEmbedding) else embedding


class LearnedModel:
    """The MuZero world model: a `networks.MuZeroNetwork` split into (graphdef, params).

    `params` passed to the planner is the network's `nnx.State`. The root input
    is a batch of observations [B, *observation_shape]. The embedding is the latent
    [B, H], or a `PrefixEmbedding` when the network predicts value prefixes
    (NetworkConfig.value_prefix_horizon > 0).
    """

    masks_interior = False  # a learned latent has no legality; the root mask comes from the env

    def __init__(self, graphdef: Any, observation_shape: tuple[int, ...], num_actions: int):
        self.graphdef = graphdef
        self.observation_shape = tuple(observation_shape)
        self.num_actions = int(num_actions)

    @classmethod
    def from_network(cls, network: nnx.Module, observation_shape, num_actions) -> tuple[LearnedModel, Any]:
        """Returns (model, params) for an NNX network instance."""
        graphdef, params = nnx.split(network)
        return cls(graphdef, observation_shape, num_actions), params

    def net(self, params):
        return nnx.merge(self.graphdef, params)

    def check_root_input(self, root_input: Any) -> int:
        shape = getattr(root_input, "shape", None)
        if shape is None or tuple(shape[1:]) != self.observation_shape or len(shape) < 1:
            raise ValueError(
                f"plan() got observations of shape {shape}; the learned model expects "
                f"[B, {', '.join(map(str, self.observation_shape))}] (a batch of "
                f"env.observation_shape={self.observation_shape}); add a batch axis with obs[None] "
                f"for a single observation")
        return int(shape[0])

    def _evaluate(self, net, embedding) -> NodeEval:
        policy_logits, value_logits = net.predict(latent_of(embedding))
        return NodeEval(embedding, policy_logits, net.value_of(value_logits), None)

    def root(self, params, observation) -> NodeEval:
        net = self.net(params)
        latent = net.represent(observation)
        if net.value_prefix_horizon > 0:
            batch = latent.shape[0]
            c, h = net.initial_lstm_state(batch)
            latent = PrefixEmbedding(latent, c, h, jnp.zeros((batch,)), jnp.zeros((batch,), jnp.int32))
        return self._evaluate(net, latent)

    def step(self, params, embedding, action):
        net = self.net(params)
        if isinstance(embedding, PrefixEmbedding):
            reward, child = value_prefix_step(net, embedding, action)
        else:
            child, reward_logits = net.dynamics(embedding, action)
            reward = logits_to_scalar(reward_logits)
        alive = jnp.ones_like(reward)
        return reward, alive, self._evaluate(net, child)

    def features(self, params, embedding) -> jax.Array:
        return self.net(params).decode_features(latent_of(embedding))


class SimulatorModel:
    """The true simulator of a JAX env: embedding = the env's `State`.

    The root input is a batched env `State` (from `jax.vmap(env.reset)`).
    Without `learned`, priors are uniform and there is no learned value, so the
    objective's value must be hand-specified (`FeatureValue`, `Constant`). With
    `learned` (a LearnedModel; its params are the planner's params), every node's
    prior and learned value are the network's, read from the representation of the
    node's true observation: the learned value searched on exact dynamics, which
    tells a world model's errors from the value head's. Illegal actions are masked
    at every node, using the env's own action mask.
    """

    masks_interior = True

    def __init__(self, env: Env, learned: LearnedModel | None = None):
        self.env = env
        self.num_actions = int(env.num_actions)
        self.learned = learned

    def check_root_input(self, root_input: Any) -> int:
        if not isinstance(root_input, State):
            raise ValueError(  # noqa: TRY004 -- kept: callers and tests catch ValueError for bad root inputs
                f"plan() with SimulatorModel needs a batched env State (from jax.vmap(env.reset)), "
                f"got {type(root_input).__name__}")
        shape = root_input.step_count.shape
        if len(shape) != 1:
            raise ValueError(f"plan() with SimulatorModel needs a batch of states with a leading axis; "
                             f"step_count has shape {shape}: use jax.vmap(env.reset)(keys)")
        return int(shape[0])

    def _evaluate(self, params, state: State) -> NodeEval:
        mask = jax.vmap(self.env.action_mask)(state)
        if self.learned is not None:
            node = self.learned.root(params, jax.vmap(self.env.observation)(state))
            return NodeEval(state, node.prior_logits, node.learned_value, mask)
        batch = state.step_count.shape[0]
        uniform = jnp.zeros((batch, self.num_actions), jnp.float32)
        return NodeEval(state, uniform, None, mask)

    def root(self, params, state: State) -> NodeEval:
        return self._evaluate(params, state)

    def step(self, params, embedding: State, action):
        next_state, ts = jax.vmap(self.env.step)(embedding, action)
        alive = 1.0 - ts.done.astype(jnp.float32)
        return ts.reward, alive, self._evaluate(params, next_state)

    def features(self, params, embedding: State) -> jax.Array:
        del params
        return jax.vmap(self.env.features)(embedding)
