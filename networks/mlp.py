"""MuZero networks for vector observations [O]: MLPs, latent [B, H] (see networks.base)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from networks.base import MuZeroNetwork
from networks.config import DEFAULT_NETWORK, NetworkConfig
from networks.layers import MLP, min_max_normalize


class MuZeroMLP(MuZeroNetwork):
    """Representation, dynamics (+ optional value-prefix LSTM), prediction, feature decoder
    and SimSiam heads for vector observations."""

    def __init__(self, observation_dim: int, num_actions: int, num_features: int,
                 config: NetworkConfig = DEFAULT_NETWORK, *, rngs: nnx.Rngs):
        # The construction order fixes which random numbers each layer draws: keep it.
        c = config
        self.num_actions = num_actions
        norm = c.layer_norm
        self.observation_latent = c.observation_latent
        latent = observation_dim if c.observation_latent else c.latent
        if not c.observation_latent:
            self.representation = MLP(observation_dim, c.hidden, c.latent, c.layers, rngs=rngs, layer_norm=norm)
        self.residual_dynamics = c.residual_dynamics or c.observation_latent
        self.action_every_layer = c.action_every_layer
        self.dynamics_trunk = MLP(latent + num_actions, c.hidden, latent, c.layers, rngs=rngs, layer_norm=norm,
                                  zero_output=self.residual_dynamics,
                                  condition_dim=num_actions if c.action_every_layer else 0)
        self.value_prefix_horizon = c.value_prefix_horizon
        self.value_scale = c.value_scale
        self.lstm_hidden = c.lstm_hidden
        if c.value_prefix_horizon > 0:
            self.prefix_lstm = nnx.OptimizedLSTMCell(latent, c.lstm_hidden, rngs=rngs)
        reward_in = c.lstm_hidden if c.value_prefix_horizon > 0 else latent
        self.reward_head = MLP(reward_in, c.hidden, 2 * c.reward_support + 1, 1, rngs=rngs, zero_output=True, layer_norm=norm)
        self.policy_head = MLP(latent, c.hidden, num_actions, c.layers, rngs=rngs, zero_output=True, layer_norm=norm)
        self.value_head = MLP(latent, c.hidden, 2 * c.value_support + 1, c.layers, rngs=rngs, zero_output=True, layer_norm=norm)
        self.decoder = MLP(latent, c.hidden, num_features, 1, rngs=rngs, zero_output=True, layer_norm=norm)
        # SimSiam heads for EfficientZero's temporal consistency loss.
        self.projection = MLP(latent, c.hidden, c.projection, 1, rngs=rngs)
        self.projection_predictor = MLP(c.projection, c.hidden, c.projection, 1, rngs=rngs)
        if c.value_heads > 1:
            # Built last, and only when asked for: a one-head network keeps its random draws and its
            # checkpoint layout (an empty list would still add a node to the saved tree).
            self.extra_value_heads = nnx.List([
                MLP(latent, c.hidden, 2 * c.value_support + 1, c.layers, rngs=rngs, zero_output=True, layer_norm=norm)
                for _ in range(c.value_heads - 1)])

    def represent(self, observation: jax.Array) -> jax.Array:
        """[B, O] -> [B, H] latent in [0, 1] (the observation itself, [B, O], with observation_latent)."""
        flat = observation.reshape(observation.shape[0], -1)
        if self.observation_latent:
            return flat.astype(jnp.float32)
        return min_max_normalize(self.representation(flat))

    def _next_latent(self, latent: jax.Array, action: jax.Array) -> jax.Array:
        """[B, H], [B] int -> [B, H]: the trunk reads the latent and the one-hot action."""
        one_hot = jax.nn.one_hot(action, self.num_actions, dtype=latent.dtype)
        x = jnp.concatenate([latent, one_hot], axis=-1)
        change = self.dynamics_trunk(x, one_hot if self.action_every_layer else None)
        if self.observation_latent:  # a predicted observation: not rescaled
            return latent + change
        return min_max_normalize(latent + change if self.residual_dynamics else change)

    def _prefix_input(self, latent: jax.Array) -> jax.Array:
        return latent
