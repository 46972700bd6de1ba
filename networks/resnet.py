"""MuZero/EfficientZero networks for pixel observations [H, W, C] (MinAtar's 10x10, Atari's 96x96);
the interface of networks.base with a spatial latent [B, H/2^n, W/2^n, D], n = config.downsample.

As in EfficientZero, scaled down: the representation is a downsampling stem (a 3x3
convolution, then a stride-2 3x3 convolution: 10x10 -> 5x5; for n > 1 each further halving is a
residual block and a stride-2 average pool: 96x96 -> 6x6 at n = 4) and residual blocks; the
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

from networks.base import MuZeroNetwork
from networks.config import DEFAULT_NETWORK, NetworkConfig
from networks.layers import (
    MLP,
    ConvHead,
    ResidualBlock,
    as_float_pixels,
    min_max_normalize,
)


class MuZeroResNet(MuZeroNetwork):
    """Representation, dynamics (+ optional value-prefix LSTM), prediction, feature decoder
    and SimSiam heads for [H, W, C] observations. Sizes: NetworkConfig (channels, blocks,
    hidden for the heads' MLPs)."""

    def __init__(self, observation_shape: tuple[int, int, int], num_actions: int, num_features: int,
                 config: NetworkConfig = DEFAULT_NETWORK, *, rngs: nnx.Rngs):
        # The construction order fixes which random numbers each layer draws: keep it.
        c = config
        height, width, in_channels = observation_shape
        d = c.channels
        self.num_actions = num_actions
        self.value_prefix_horizon = c.value_prefix_horizon
        self.value_scale = c.value_scale
        self.lstm_hidden = c.lstm_hidden
        for _ in range(c.downsample):
            height, width = (height + 1) // 2, (width + 1) // 2
        spatial = height * width
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
        # Built last, so that the layers above draw the same numbers whatever the downsampling.
        self.downsample_blocks = nnx.List([ResidualBlock(d, rngs=rngs) for _ in range(c.downsample - 1)])

    def represent(self, observation: jax.Array) -> jax.Array:
        """[B, H, W, C] (float, or uint8 frames scaled to [0, 1]) -> [B, H/2^n, W/2^n, D] latent in [0, 1]."""
        x = nnx.relu(self.stem(as_float_pixels(observation)))
        x = self.down(x)
        for block in self.downsample_blocks:
            x = nnx.avg_pool(block(x), (3, 3), strides=(2, 2), padding="SAME")
        for block in self.representation_blocks:
            x = block(x)
        return min_max_normalize(x)

    def _next_latent(self, latent: jax.Array, action: jax.Array) -> jax.Array:
        """The latent plus an action plane (action / A), convolved back to D channels, then residual blocks."""
        plane = jnp.broadcast_to((action.astype(latent.dtype) / self.num_actions)[:, None, None, None],
                                 latent.shape[:-1] + (1,))
        x = latent + self.dynamics_in(jnp.concatenate([latent, plane], axis=-1))
        for block in self.dynamics_blocks:
            x = block(x)
        return min_max_normalize(x)

    def _prefix_input(self, latent: jax.Array) -> jax.Array:
        """[B, h, w, D] -> [B, reduced * h * w]: a 1x1 convolution, flattened."""
        reduced = nnx.relu(self.prefix_reduce(latent))
        return reduced.reshape(reduced.shape[0], -1)
