"""The layers both network families are built from: the MLP, a residual block, a
convolutional head, and MuZero's min-max scaling of the latent."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def as_float_pixels(observation: jax.Array) -> jax.Array:
    """uint8 observations (camera frames, kept as bytes in replay) -> float32 in [0, 1]; any other
    dtype unchanged."""
    if observation.dtype == jnp.uint8:
        return observation.astype(jnp.float32) / 255.0
    return observation


def min_max_normalize(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """Scales each sample of [B, ...] to [0, 1] over all its entries, as MuZero does to its
    hidden state ([B, H] vectors row by row; [B, h, w, D] maps as a whole, as EfficientZero does)."""
    axes = tuple(range(1, x.ndim))
    low = jnp.min(x, axis=axes, keepdims=True)
    high = jnp.max(x, axis=axes, keepdims=True)
    return (x - low) / jnp.maximum(high - low, eps)


class MLP(nnx.Module):
    """`layers` x (Linear -> LayerNorm -> ReLU), then a Linear output layer: [B, in] -> [B, out].
    layer_norm=False drops the LayerNorms (Linear -> ReLU). condition_dim > 0: a [B, condition_dim]
    input (`condition`) is concatenated to the input of every layer after the first as well."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int, *, rngs: nnx.Rngs,
                 zero_output: bool = False, layer_norm: bool = True, condition_dim: int = 0):
        dims = [in_dim] + [hidden] * layers
        inputs = [in_dim] + [hidden + condition_dim] * layers  # what each layer reads
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(inputs, dims[1:])])
        self.norms = nnx.List([nnx.LayerNorm(b, rngs=rngs) if layer_norm else None for b in dims[1:]])
        init = nnx.initializers.zeros_init() if zero_output else nnx.initializers.lecun_normal()
        self.out = nnx.Linear(inputs[-1], out_dim, kernel_init=init, rngs=rngs)

    def __call__(self, x: jax.Array, condition: jax.Array | None = None) -> jax.Array:
        for i, (linear, norm) in enumerate(zip(self.hidden, self.norms)):
            if i > 0 and condition is not None:
                x = jnp.concatenate([x, condition], axis=-1)
            x = linear(x)
            x = nnx.relu(x if norm is None else norm(x))
        if self.hidden and condition is not None:
            x = jnp.concatenate([x, condition], axis=-1)
        return self.out(x)


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
