"""`check_value_fn(fn, env)`: tells a user what is wrong with their ValueFn."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from search.objective import FeatureValue, Leaf


class ValueFnCheckError(ValueError):
    """A ValueFn broke the contract; the message says what to change."""


def check_value_fn(value_fn, env, batch: int = 8, seed: int = 0) -> None:
    """Runs `value_fn` on a batch of real states of `env`; raises ValueFnCheckError.

    value_fn: a ValueFn (e.g. FeatureValue(fn)) or a plain function of one
      state's features [F] -> scalar (it is wrapped in FeatureValue).
    Checks: it returns one float per state ([B]), no NaN/inf, the same under
    jax.jit, and it does not read the learned value (unavailable on a simulator).
    """
    if not hasattr(value_fn, "needs_features"):
        value_fn = FeatureValue(value_fn)
    keys = jax.random.split(jax.random.PRNGKey(seed), batch)
    states, _ = jax.vmap(env.reset)(keys)
    actions = jax.random.randint(jax.random.PRNGKey(seed + 1), (batch,), 0, env.num_actions)
    states, _ = jax.vmap(env.step)(states, actions)
    features = jax.vmap(env.features)(states)
    leaf = Leaf(embedding=states, features=features, learned_value=jnp.zeros((batch,)))
    name = str(value_fn)
    try:
        out = value_fn(leaf)
    except Exception as err:  # a user's function: report any failure in plain words
        first_line = str(err).splitlines()[0] if str(err) else ""
        hint = (" Python `if`/`float()` on arrays cannot be traced: use jnp.where."
                if isinstance(err, jax.errors.TracerBoolConversionError) else "")
        raise ValueFnCheckError(f"{name} raised {type(err).__name__}: {first_line}.{hint} It gets one state's "
                                f"features [{env.num_features}] = {env.feature_names} and must return a "
                                f"scalar") from err
    out = jnp.asarray(out)
    if out.shape != (batch,):
        raise ValueFnCheckError(
            f"{name} returned shape {out.shape} for a batch of {batch} states; expected ({batch},). "
            f"A FeatureValue fn gets one state's features [{env.num_features}] and must return a scalar")
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueFnCheckError(f"{name} returned dtype {out.dtype}; return a float (e.g. x.astype(jnp.float32))")
    if not np.all(np.isfinite(np.asarray(out))):
        raise ValueFnCheckError(f"{name} returned NaN or inf for some states: {np.asarray(out)}")
    try:
        jitted = jax.jit(value_fn.__call__)(leaf)
    except Exception as err:
        raise ValueFnCheckError(f"{name} cannot run under jax.jit ({type(err).__name__}: {err}); use jnp "
                                f"operations and jnp.where instead of Python if/float() on arrays") from err
    if not np.allclose(np.asarray(jitted), np.asarray(out), rtol=1e-5, atol=1e-5):
        raise ValueFnCheckError(f"{name} gives different values under jax.jit; avoid Python side effects")
