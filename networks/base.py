"""What every MuZero network does, written once: the dynamics (with or without
EfficientZero's value prefix), the prediction heads, the feature decoder and the
SimSiam projection. `networks.mlp` and `networks.resnet` supply the parts that depend
on the observation's shape.

    represent(obs [B, *obs_shape])         -> latent [B, *latent_shape]   (min-max scaled)
    dynamics(latent, action [B])           -> latent, reward_logits [B, 2R+1]
    dynamics_prefix(latent, (c, h), action) -> latent, (c, h), value_prefix_logits [B, 2R+1]
    predict(latent)                        -> policy_logits [B, A], value_logits [B, 2V+1]
    predict_per_head(latent)               -> policy_logits [B, A], value_logits [E, B, 2V+1] (E value heads)
    value_of(value_logits)                 -> value [B] (raw return scale)
    decode_features(latent)                -> features [B, F]
    project(latent, with_predictor)        -> [B, P]

The policy, value, reward and decoder output layers start at zero: a fresh network has
a uniform prior and predicts 0 for value and reward, so the first searches are driven
by the objective rather than by random initial weights.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from networks.support import logits_to_scalar, scalar_to_probs


def resets_value_prefix(depth, horizon: int):
    """Whether the value-prefix LSTM restarts at `depth` steps from the root of an unroll or a
    search (every `horizon` steps, as in EfficientZero). The one rule the search tree
    (search.models) and the learner's unroll (agent.algorithm.losses) share; `depth` is an
    int or an int array."""
    return depth % horizon == 0


def mix_value_heads(per_head: jax.Array) -> jax.Array:
    """[E, B, N] value logits of E heads -> [B, N] the logits of their mixture, log(mean_e softmax):
    its mean in h-space is the mean of the heads'. One head's logits pass through unchanged."""
    if per_head.shape[0] == 1:
        return per_head[0]
    return jax.nn.logsumexp(jax.nn.log_softmax(per_head, axis=-1), axis=0) - jnp.log(per_head.shape[0])


class MuZeroNetwork(nnx.Module):
    """The shared heads. A subclass builds, in its __init__: `policy_head`, `value_head`,
    `reward_head`, `decoder`, `projection`, `projection_predictor` (and `prefix_lstm` when
    `value_prefix_horizon > 0`), sets `num_actions`, `value_prefix_horizon`, `lstm_hidden`, `value_scale`,
    and writes `represent`, `_next_latent` and `_prefix_input`."""

    observation_latent = False  # the latent is the observation itself (networks.mlp, with the option on)
    extra_value_heads = ()  # value heads beyond `value_head` (networks.mlp, with network.value_heads > 1)

    def represent(self, observation: jax.Array) -> jax.Array:
        raise NotImplementedError

    def _next_latent(self, latent: jax.Array, action: jax.Array) -> jax.Array:
        """The dynamics' next latent (min-max scaled), same shape as `latent`."""
        raise NotImplementedError

    def _prefix_input(self, latent: jax.Array) -> jax.Array:
        """What the value-prefix LSTM reads from a latent: [B, X]."""
        raise NotImplementedError

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

    def dynamics_prefix(self, latent: jax.Array, lstm_state: tuple[jax.Array, jax.Array], action: jax.Array):
        """EfficientZero's dynamics: (latent, (c, h) [B, L] each, [B] int) ->
        (next latent, next (c, h), value-prefix logits [B, 2R+1]).

        The value prefix is the sum of the rewards since the LSTM state was last reset; the
        caller resets it (to `initial_lstm_state`) where `resets_value_prefix` says so.
        """
        next_latent = self._next_latent(latent, action)
        lstm_state, lstm_out = self.prefix_lstm(lstm_state, self._prefix_input(next_latent))
        return next_latent, lstm_state, self.reward_head(nnx.relu(lstm_out))

    def predict(self, latent: jax.Array) -> tuple[jax.Array, jax.Array]:
        """latent -> (policy logits [B, A], value logits [B, 2V+1]).

        With several value heads (`extra_value_heads`) the value logits are those of the mixture of the
        heads' distributions, log(mean_e softmax(logits_e)): its mean in h-space is the mean of the heads'.
        """
        policy_logits, per_head = self.predict_per_head(latent)
        return policy_logits, mix_value_heads(per_head)

    def predict_per_head(self, latent: jax.Array) -> tuple[jax.Array, jax.Array]:
        """latent -> (policy logits [B, A], value logits of each value head [E, B, 2V+1]); the learner
        trains each head on its own (E = 1 + len(extra_value_heads))."""
        heads = [self.value_head, *self.extra_value_heads]
        return self.policy_head(latent), jnp.stack([head(latent) for head in heads])

    def value_of(self, value_logits: jax.Array) -> jax.Array:
        """[..., 2V+1] value logits -> [...] the value on the raw return scale (undoing value_scale)."""
        return logits_to_scalar(value_logits) / self.value_scale

    def value_target(self, value: jax.Array, size: int) -> jax.Array:
        """[...] returns -> [..., 2 size + 1] the two-hot target the value head learns (value_scale applied)."""
        return scalar_to_probs(value * self.value_scale, size)

    def decode_features(self, latent: jax.Array) -> jax.Array:
        """latent -> [B, F] predicted env features."""
        return self.decoder(latent)

    def project(self, latent: jax.Array, with_predictor: bool) -> jax.Array:
        """latent -> [B, P] SimSiam projection (then the predictor, on the online branch)."""
        z = self.projection(latent.reshape(latent.shape[0], -1))
        return self.projection_predictor(z) if with_predictor else z


def count_params(params) -> int:
    """Number of scalars in a params pytree (an `nnx.State` or any pytree of arrays)."""
    return int(sum(x.size for x in jax.tree.leaves(params)))
