"""Categorical value/reward supports and MuZero's invertible transform h(x).

Values and rewards are predicted as distributions over the integer support
{-S, ..., S} in h-space: a scalar y is squashed to h(y), written as a two-hot
vector over the two nearest support points, and read back as h^-1(E[support]).

rlax ships these, but it pulls in distrax and tfp-nightly; twenty lines here,
pinned by a round-trip property test, cost less than that dependency chain.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

EPS = 1e-3  # MuZero's epsilon in h(x)


def h(x: jax.Array, eps: float = EPS) -> jax.Array:
    """h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x, elementwise."""
    return jnp.sign(x) * (jnp.sqrt(jnp.abs(x) + 1.0) - 1.0) + eps * x


def h_inv(y: jax.Array, eps: float = EPS) -> jax.Array:
    """The closed-form inverse of `h`, elementwise:

    h^-1(y) = sign(y) (((sqrt(1 + 4 eps (|y| + 1 + eps)) - 1) / (2 eps))^2 - 1).
    """
    root = (jnp.sqrt(1.0 + 4.0 * eps * (jnp.abs(y) + 1.0 + eps)) - 1.0) / (2.0 * eps)
    return jnp.sign(y) * (root**2 - 1.0)


def support(size: int) -> jax.Array:
    """[2 * size + 1] float32: the integer support points -size..size."""
    return jnp.arange(-size, size + 1, dtype=jnp.float32)


def two_hot(x: jax.Array, size: int) -> jax.Array:
    """Writes x (any shape, already in h-space) as two-hot over `support(size)`.

    Returns [*x.shape, 2 * size + 1]; values outside [-size, size] are clipped.
    """
    x = jnp.clip(x, -size, size)
    low = jnp.floor(x)
    frac_high = x - low
    low_index = (low + size).astype(jnp.int32)
    high_index = jnp.minimum(low_index + 1, 2 * size)
    n = 2 * size + 1
    return (jax.nn.one_hot(low_index, n) * (1.0 - frac_high)[..., None]
            + jax.nn.one_hot(high_index, n) * frac_high[..., None])


def scalar_to_probs(y: jax.Array, size: int) -> jax.Array:
    """A scalar target (raw scale) -> two-hot target over the h-space support."""
    return two_hot(h(y), size)


def logits_to_scalar(logits: jax.Array) -> jax.Array:
    """[..., 2S+1] logits over the h-space support -> [...] scalar on the raw scale."""
    size = (logits.shape[-1] - 1) // 2
    expected_h = jnp.sum(jax.nn.softmax(logits, axis=-1) * support(size), axis=-1)
    return h_inv(expected_h)
