"""`jax.random.split` and `jax.random.uniform` for batches of raw keys: the same bits, fewer ops.

On the CPU, JAX lowers the Threefry-2x32 hash behind every `jax.random` call as a
5-iteration `while` loop (`use_rolled_loops=True` in jax/_src/random/threefry2x32.py, to
keep compile times short), several XLA ops per iteration. PUCT's tie-breaking noise draws
keys and noise at every level of every simulation, so on the 2-core CPU these loops were
the most frequent ops of a PUCT selection in our traces (the select column of
benchmarks/results/search_profile.md counts the ops before and after). These functions call JAX's own hash,
`_threefry2x32_lowering`, unrolled (as JAX lowers it on GPUs), so XLA fuses it into a
single integer kernel. The hash is integer arithmetic, so the bits are identical;
tests/test_batched_search.py checks them against `jax.random` on many keys.

They follow JAX's default `jax_threefry_partitionable=True` derivations; with that flag
off they defer to `jax.random` itself. Raw uint32[..., 2] keys only (what mctx uses).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax._src.random import threefry2x32 as jax_threefry


def _fast() -> bool:
    return bool(jax.config.jax_threefry_partitionable)


def _hash(keys: jax.Array, counts_hi: jax.Array, counts_lo: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 of keys [B, 2] with counts [B, n] (or broadcastable) -> two [B, n] words."""
    k1, k2 = keys[:, :1], keys[:, 1:]
    shape = jnp.broadcast_shapes(k1.shape, counts_hi.shape)
    return jax_threefry._threefry2x32_lowering(
        jnp.broadcast_to(k1, shape), jnp.broadcast_to(k2, shape),
        jnp.broadcast_to(counts_hi, shape), jnp.broadcast_to(counts_lo, shape), use_rolled_loops=False)


def split(keys: jax.Array, num: int = 2) -> jax.Array:
    """[B, 2] keys -> [B, num, 2]: row b is `jax.random.split(keys[b], num)`."""
    if not _fast():
        return jax.vmap(lambda k: jax.random.split(k, num))(keys)
    counts = jnp.arange(num, dtype=jnp.uint32)[None, :]
    bits_hi, bits_lo = _hash(keys, jnp.zeros_like(counts), counts)
    return jnp.stack([bits_hi, bits_lo], axis=-1)


def split_one(key: jax.Array, num: int) -> jax.Array:
    """One key [2] -> [num, 2], `jax.random.split(key, num)`."""
    return split(key[None], num)[0]


def uniform(keys: jax.Array, num: int) -> jax.Array:
    """[B, 2] keys -> [B, num] float32 in [0, 1): row b is `jax.random.uniform(keys[b], (num,))`."""
    if not _fast():
        return jax.vmap(lambda k: jax.random.uniform(k, (num,)))(keys)
    counts = jnp.arange(num, dtype=jnp.uint32)[None, :]
    bits_hi, bits_lo = _hash(keys, jnp.zeros_like(counts), counts)
    bits = bits_hi ^ bits_lo
    # jax.random.uniform's float32 conversion: 23 random mantissa bits under exponent 0.
    float_bits = jax.lax.shift_right_logical(bits, jnp.uint32(32 - 23)) | jnp.uint32(
        np.array(1.0, np.float32).view(np.uint32))
    floats = jax.lax.bitcast_convert_type(float_bits, jnp.float32) - jnp.float32(1.0)
    return jax.lax.max(jnp.float32(0.0), floats * (jnp.float32(1.0) - jnp.float32(0.0)) + jnp.float32(0.0))
