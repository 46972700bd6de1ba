"""MuZero/EfficientZero networks for pixel observations (MinAtar-sized), as Flax NNX modules.

The same interface as `networks.muzero.MuZeroMLP`, with a spatial latent:

    represent(obs [B, H, W, C])          -> latent [B, H/2, W/2, D]  (min-max normalised)
    dynamics(latent, action [B])         -> latent, reward_logits [B, 2R+1]
    dynamics_prefix(latent, lstm_state, action) -> latent, lstm_state, value_prefix_logits
    predict(latent)                      -> policy_logits [B, A], value_logits [B, 2V+1]
    decode_features(latent)              -> features [B, F]
    project(latent, with_predictor)      -> [B, P]

As in EfficientZero, scaled down: the representation is a downsampling stem (a 3x3
convolution, then a stride-2 3x3 convolution: 10x10 -> 5x5) and residual blocks; the
dynamics adds an action plane (action / A) to the latent, convolves back to D channels
with a residual connection to the latent, then residual blocks; the heads reduce the
channels with a 1x1 convolution and read the flattened map with MLPs. LayerNorm stands
in for EfficientZero's BatchNorm, which would need running statistics threaded
through every search and unroll.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from networks.muzero import MLP, NetworkConfig


def min_max_normalize_map(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """Scales each sample of [B, ...] to [0, 1] over all its entries (EfficientZero's latent scaling)."""
    axes = tuple(range(1, x.ndim))
    low = jnp.min(x, axis=axes, keepdims=True)
    high = jnp.max(x, axis=axes, keepdims=True)
    return (x - low) / jnp.maximum(high - low, eps)


class ResidualBlock(nnx.Module):
    """x + conv(relu(norm(conv(relu(norm(x)))))) -- a pre-activation residual block, [B, h, w, D]."""

    def __init__(self, channels: int, *, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(channels, rngs=rngs)
        self.conv1 = nnx.Conv(channels, channels, (3, 3), rngs=rngs)
        self.norm2 = nnx.LayerNorm(channels, rngs=rngs)
        self.conv2 = nnx.Conv(channels, channels, (3, 3), rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.conv1(nnx.relu(self.norm1(x)))
        return x + self.conv2(nnx.relu(self.norm2(y)))


class ConvHead(nnx.Module):
    """1x1 convolution to `reduced` channels, flatten, then an MLP: [B, h, w, D] -> [B, out]."""

    def __init__(self, channels: int, reduced: int, spatial: int, hidden: int, out: int, layers: int, *,
                 rngs: nnx.Rngs, zero_output: bool = False):
        self.reduce = nnx.Conv(channels, reduced, (1, 1), rngs=rngs)
        self.mlp = MLP(reduced * spatial, hidden, out, layers, rngs=rngs, zero_output=zero_output)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = nnx.relu(self.reduce(x))
        return self.mlp(y.reshape(y.shape[0], -1))


class MuZeroResNet(nnx.Module):
    """Representation, dynamics (+ optional value-prefix LSTM), prediction, feature decoder
    and SimSiam heads for [H, W, C] observations. Sizes: NetworkConfig (channels, blocks,
    hidden for the heads' MLPs)."""

    def __init__(self, observation_shape: tuple[int, int, int], num_actions: int, num_features: int,
                 config: NetworkConfig = NetworkConfig(), *, rngs: nnx.Rngs):
        c = config
        height, width, in_channels = observation_shape
        d = c.channels
        self.num_actions = num_actions
        self.value_prefix_horizon = c.value_prefix_horizon
        self.lstm_hidden = c.lstm_hidden
        spatial = ((height + 1) // 2) * ((width + 1) // 2)
        reduced = max(d // 4, 4)
        self.stem = nnx.Conv(in_channels, d, (3, 3), rngs=rngs)
        self.down = nnx.Conv(d, d, (3, 3), strides=(2, 2), rngs=rngs)
        self.representation_blocks = nnx.List([ResidualBlock(d, rngs=rngs) for _ in range(c.blocks)])
        self.dynamics_in = nnx.Conv(d + 1, d, (3, 3), rngs=rngs)
        self.dynamics_blocks = nnx.List([ResidualBlock(d, rngs=rngs) for _ in range(c.blocks)])
        if c.value_prefix_horizon > 0:
            self.prefix_reduce = nnx.Conv(d, reduced, (1, 1), rngs=rngs)
            self.prefix_lstm = nnx.OptimizedLSTMCell(reduced * spatial, c.lstm_hidden, rngs=rngs)
            self.reward_head = MLP(c.lstm_hidden, c.hidden, 2 * c.reward_support + 1, 1, rngs=rngs,
                                   zero_output=True)
        else:
            self.reward_head = ConvHead(d, reduced, spatial, c.hidden, 2 * c.reward_support + 1, 1, rngs=rngs,
                                        zero_output=True)
        self.policy_head = ConvHead(d, reduced, spatial, c.hidden, num_actions, 1, rngs=rngs, zero_output=True)
        self.value_head = ConvHead(d, reduced, spatial, c.hidden, 2 * c.value_support + 1, 1, rngs=rngs,
                                   zero_output=True)
        self.decoder = ConvHead(d, reduced, spatial, c.hidden, num_features, 1, rngs=rngs, zero_output=True)
        self.projection = MLP(d * spatial, c.hidden, c.projection, 1, rngs=rngs)
        self.projection_predictor = MLP(c.projection, c.hidden, c.projection, 1, rngs=rngs)

    def represent(self, observation: jax.Array) -> jax.Array:
        """[B, H, W, C] -> [B, H/2, W/2, D] latent in [0, 1]."""
        x = nnx.relu(self.stem(observation))
        x = self.down(x)
        for block in self.representation_blocks:
            x = block(x)
        return min_max_normalize_map(x)

    def _next_latent(self, latent: jax.Array, action: jax.Array) -> jax.Array:
        plane = jnp.broadcast_to((action.astype(latent.dtype) / self.num_actions)[:, None, None, None],
                                 latent.shape[:-1] + (1,))
        x = latent + self.dynamics_in(jnp.concatenate([latent, plane], axis=-1))
        for block in self.dynamics_blocks:
            x = block(x)
        return min_max_normalize_map(x)

    def dynamics(self, latent: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(latent, [B] int) -> (next latent, reward logits [B, 2R+1])."""
        if self.value_prefix_horizon > 0:
            raise ValueError("this network predicts value prefixes (value_prefix_horizon > 0): "
                             "step it with dynamics_prefix")
        next_latent = self._next_latent(latent, action)
        return next_latent, self.reward_head(next_latent)

    def initial_lstm_state(self, batch: int) -> tuple[jax.Array, jax.Array]:
        """The value-prefix LSTM's reset state: (c [B, L], h [B, L]) zeros."""
        zeros = jnp.zeros((batch, self.lstm_hidden), jnp.float32)
        return zeros, zeros

    def dynamics_prefix(self, latent: jax.Array, lstm_state, action: jax.Array):
        """(latent, (c, h), [B] int) -> (next latent, next (c, h), value-prefix logits [B, 2R+1])."""
        next_latent = self._next_latent(latent, action)
        reduced = nnx.relu(self.prefix_reduce(next_latent))
        lstm_state, out = self.prefix_lstm(lstm_state, reduced.reshape(reduced.shape[0], -1))
        return next_latent, lstm_state, self.reward_head(nnx.relu(out))

    def predict(self, latent: jax.Array) -> tuple[jax.Array, jax.Array]:
        """latent -> (policy logits [B, A], value logits [B, 2V+1])."""
        return self.policy_head(latent), self.value_head(latent)

    def decode_features(self, latent: jax.Array) -> jax.Array:
        """latent -> [B, F] predicted env features."""
        return self.decoder(latent)

    def project(self, latent: jax.Array, with_predictor: bool) -> jax.Array:
        """latent -> [B, P] SimSiam projection (then the predictor, on the online branch)."""
        z = self.projection(latent.reshape(latent.shape[0], -1))
        return self.projection_predictor(z) if with_predictor else z
