"""MuZero networks for vector observations, as Flax NNX modules.

    represent(obs [B, O])                -> latent [B, H]          (min-max normalised)
    dynamics(latent [B, H], action [B])  -> latent [B, H], reward_logits [B, 2R+1]
    dynamics_prefix(latent, lstm_state, action) -> latent, lstm_state, value_prefix_logits [B, 2R+1]
                                            (EfficientZero's value prefix, when value_prefix_horizon > 0)
    predict(latent [B, H])               -> policy_logits [B, A], value_logits [B, 2V+1]
    decode_features(latent [B, H])       -> features [B, F]        (the env's features)

The policy, value, reward and decoder output layers start at zero: a fresh
network has a uniform prior and predicts 0 for value and reward, so the first
searches are driven by the objective rather than by random initial weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the MuZero MLP networks."""

    hidden: int = 64
    """Width of every hidden layer."""
    latent: int = 64
    """Size H of the latent state the search plans in."""
    layers: int = 2
    """Hidden layers in each of the representation, dynamics and prediction MLPs."""
    value_support: int = 20
    """Value is a categorical over the integers -S..S in h-space (covers returns up to ~460)."""
    reward_support: int = 5
    """Reward is a categorical over -R..R in h-space (covers rewards up to ~35)."""
    projection: int = 64
    """Output size of the SimSiam projection used by the consistency loss."""
    value_prefix_horizon: int = 0
    """EfficientZero's value prefix: an LSTM over the unrolled latents predicts the sum of rewards
    since its last reset, reset every this many steps (EfficientZero uses 5); 0 keeps MuZero's
    per-step reward head."""
    lstm_hidden: int = 64
    """Width of the value-prefix LSTM."""
    channels: int = 32
    """Pixel observations (networks.resnet): channels D of the spatial latent."""
    blocks: int = 1
    """Pixel observations: residual blocks in the representation and in the dynamics."""


def min_max_normalize(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """Scales each row of [B, H] to [0, 1], as MuZero does to its hidden state."""
    low = jnp.min(x, axis=-1, keepdims=True)
    high = jnp.max(x, axis=-1, keepdims=True)
    return (x - low) / jnp.maximum(high - low, eps)


class MLP(nnx.Module):
    """`layers` x (Linear -> LayerNorm -> ReLU), then a Linear output layer."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int, *, rngs: nnx.Rngs,
                 zero_output: bool = False):
        dims = [in_dim] + [hidden] * layers
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        self.norms = nnx.List([nnx.LayerNorm(b, rngs=rngs) for b in dims[1:]])
        init = nnx.initializers.zeros_init() if zero_output else nnx.initializers.lecun_normal()
        self.out = nnx.Linear(dims[-1], out_dim, kernel_init=init, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for linear, norm in zip(self.hidden, self.norms):
            x = nnx.relu(norm(linear(x)))
        return self.out(x)


def make_network(observation_shape: tuple[int, ...], num_actions: int, num_features: int,
                 config: NetworkConfig, *, rngs: nnx.Rngs) -> nnx.Module:
    """The network for an observation shape: an MLP for vectors [O], the ResNet for images [H, W, C]."""
    if len(observation_shape) == 1:
        return MuZeroMLP(observation_shape[0], num_actions, num_features, config, rngs=rngs)
    if len(observation_shape) == 3:
        from networks.resnet import MuZeroResNet

        return MuZeroResNet(tuple(observation_shape), num_actions, num_features, config, rngs=rngs)
    raise ValueError(f"observations of shape {tuple(observation_shape)} are not supported: the networks take "
                     f"vectors [O] (MLP) or images [H, W, C] (ResNet); flatten or add a channel axis")


class MuZeroMLP(nnx.Module):
    """Representation, dynamics, prediction and feature decoder for vector observations."""

    def __init__(self, observation_dim: int, num_actions: int, num_features: int,
                 config: NetworkConfig = NetworkConfig(), *, rngs: nnx.Rngs):
        c = config
        self.num_actions = num_actions
        self.representation = MLP(observation_dim, c.hidden, c.latent, c.layers, rngs=rngs)
        self.dynamics_trunk = MLP(c.latent + num_actions, c.hidden, c.latent, c.layers, rngs=rngs)
        self.value_prefix_horizon = c.value_prefix_horizon
        self.lstm_hidden = c.lstm_hidden
        if c.value_prefix_horizon > 0:
            self.prefix_lstm = nnx.OptimizedLSTMCell(c.latent, c.lstm_hidden, rngs=rngs)
        reward_in = c.lstm_hidden if c.value_prefix_horizon > 0 else c.latent
        self.reward_head = MLP(reward_in, c.hidden, 2 * c.reward_support + 1, 1, rngs=rngs, zero_output=True)
        self.policy_head = MLP(c.latent, c.hidden, num_actions, c.layers, rngs=rngs, zero_output=True)
        self.value_head = MLP(c.latent, c.hidden, 2 * c.value_support + 1, c.layers, rngs=rngs, zero_output=True)
        self.decoder = MLP(c.latent, c.hidden, num_features, 1, rngs=rngs, zero_output=True)
        # SimSiam heads for EfficientZero's temporal consistency loss.
        self.projection = MLP(c.latent, c.hidden, c.projection, 1, rngs=rngs)
        self.projection_predictor = MLP(c.projection, c.hidden, c.projection, 1, rngs=rngs)

    def represent(self, observation: jax.Array) -> jax.Array:
        """[B, O] -> [B, H] latent in [0, 1]."""
        return min_max_normalize(self.representation(observation.reshape(observation.shape[0], -1)))

    def dynamics(self, latent: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        """([B, H], [B] int) -> (next latent [B, H], reward logits [B, 2R+1])."""
        if self.value_prefix_horizon > 0:
            raise ValueError("this network predicts value prefixes (value_prefix_horizon > 0): "
                             "step it with dynamics_prefix")
        x = jnp.concatenate([latent, jax.nn.one_hot(action, self.num_actions, dtype=latent.dtype)], axis=-1)
        next_latent = min_max_normalize(self.dynamics_trunk(x))
        return next_latent, self.reward_head(next_latent)

    def initial_lstm_state(self, batch: int) -> tuple[jax.Array, jax.Array]:
        """The value-prefix LSTM's reset state: (c [B, L], h [B, L]) zeros."""
        zeros = jnp.zeros((batch, self.lstm_hidden), jnp.float32)
        return zeros, zeros

    def dynamics_prefix(self, latent: jax.Array, lstm_state: tuple[jax.Array, jax.Array], action: jax.Array):
        """EfficientZero's dynamics: ([B, H], (c, h) [B, L] each, [B] int) ->
        (next latent [B, H], next (c, h), value-prefix logits [B, 2R+1]).

        The value prefix is the sum of the rewards since the LSTM state was last reset;
        the caller resets it (to `initial_lstm_state`) every `value_prefix_horizon` steps.
        """
        x = jnp.concatenate([latent, jax.nn.one_hot(action, self.num_actions, dtype=latent.dtype)], axis=-1)
        next_latent = min_max_normalize(self.dynamics_trunk(x))
        lstm_state, lstm_out = self.prefix_lstm(lstm_state, next_latent)
        return next_latent, lstm_state, self.reward_head(nnx.relu(lstm_out))

    def predict(self, latent: jax.Array) -> tuple[jax.Array, jax.Array]:
        """[B, H] -> (policy logits [B, A], value logits [B, 2V+1])."""
        return self.policy_head(latent), self.value_head(latent)

    def decode_features(self, latent: jax.Array) -> jax.Array:
        """[B, H] -> [B, F] predicted env features."""
        return self.decoder(latent)

    def project(self, latent: jax.Array, with_predictor: bool) -> jax.Array:
        """[B, H] -> [B, P] SimSiam projection (then the predictor, on the online branch)."""
        z = self.projection(latent)
        return self.projection_predictor(z) if with_predictor else z


def count_params(params) -> int:
    """Number of scalars in a params pytree (an `nnx.State` or any pytree of arrays)."""
    return int(sum(x.size for x in jax.tree.leaves(params)))
