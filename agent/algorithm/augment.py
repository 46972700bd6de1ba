"""Augmentation in the loss: EfficientZero's for pixel observations (random shift, then intensity),
Gaussian noise for vector observations.

    augment(key, observations [N, H, W, C]) -> [N, H, W, C]
    batch_scaled_noise(key, observations [N, D], scale) -> [N, D]   (vector observations)
    mirror_windows(mirror, key, observations, actions, policy, features) -> the same, half mirrored

Random shift (DrQ / EfficientZero): pad each image by `pad` squares, repeating the
edge, and crop a random H x W window, so the image moves by up to `pad` squares.
Intensity: multiply each image by 1 + 0.05 * clip(n, -2, 2), n ~ N(0, 1).
Ten lines of jax.random and lax.dynamic_slice: a dependency (e.g. dm_pix) would not be shorter.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.base import Mirror


def random_shift(key: jax.Array, images: jax.Array, pad: int = 1) -> jax.Array:
    """[N, H, W, C] -> [N, H, W, C], each image shifted by a random offset in [-pad, pad]^2."""
    n, height, width, _ = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    offsets = jax.random.randint(key, (n, 2), 0, 2 * pad + 1)
    crop = lambda image, offset: jax.lax.dynamic_slice(image, (offset[0], offset[1], 0),
                                                       (height, width, image.shape[-1]))
    return jax.vmap(crop)(padded, offsets)


def random_intensity(key: jax.Array, images: jax.Array, scale: float = 0.05) -> jax.Array:
    """[N, ...] -> [N, ...], each image multiplied by 1 + scale * clip(N(0, 1), -2, 2)."""
    noise = jnp.clip(jax.random.normal(key, (images.shape[0],) + (1,) * (images.ndim - 1)), -2.0, 2.0)
    return images * (1.0 + scale * noise)


def batch_scaled_noise(key: jax.Array, observations: jax.Array, scale: float) -> jax.Array:
    """[N, D] -> [N, D] plus Gaussian noise whose standard deviation is `scale` x each entry's standard
    deviation over the batch: one scale fits entries of any size (CartPole's angle spans about a tenth
    of its cart position's range)."""
    spread = jax.lax.stop_gradient(jnp.std(observations, axis=0, keepdims=True))
    return observations + scale * spread * jax.random.normal(key, observations.shape)


def augment(key: jax.Array, images: jax.Array) -> jax.Array:
    """Shift then intensity, independently per image ([N, H, W, C])."""
    shift_key, intensity_key = jax.random.split(key)
    return random_intensity(intensity_key, random_shift(shift_key, images))


def mirror_windows(mirror: Mirror, key: jax.Array, observations: jax.Array, actions: jax.Array,
                   policy: jax.Array, features: jax.Array):
    """A random half of the windows replaced by their mirror images (the env's symmetry).

    observations: [B, K+1, *obs]; actions: [B, K] int; policy: [B, K+1, A] target weights;
    features: [B, K+1, F]. Rewards and values are the same for a mirrored window, so their
    targets are left as they are. Returns (observations, actions, policy, features).
    """
    flip = jax.random.bernoulli(key, 0.5, (observations.shape[0],))
    sign = jnp.asarray(mirror.observation_sign, observations.dtype).reshape(observations.shape[2:])
    permutation = jnp.asarray(mirror.action_permutation, jnp.int32)
    # The mirrored policy puts on action permutation[a] the weight the original put on a.
    inverse = jnp.argsort(permutation)
    pick = lambda mirrored, original: jnp.where(flip.reshape((-1,) + (1,) * (original.ndim - 1)), mirrored, original)
    return (pick(observations * sign, observations), pick(permutation[actions], actions),
            pick(policy[..., inverse], policy),
            pick(features * jnp.asarray(mirror.feature_sign, features.dtype), features))
