"""MuZero's losses over a K-step dynamics unroll (+ EfficientZero's consistency term).

    loss = l_0 + (1/K) sum_{k=1..K} l_k
    l_k  = w_v CE(value_k) + w_p CE(policy_k) + w_r CE(reward_k) + w_f |f_k - f_hat_k|^2
           (+ w_c consistency_k for k >= 1)
           (+ w_o |s_k - o_k|^2 for k >= 1 when the latent s is the observation o: network.observation_latent)

Gradients entering each dynamics step are scaled by 1/2 (MuZero), values and
rewards are cross-entropies to two-hot targets over the h-space supports. With a
value-prefix network (EfficientZero) the reward term is the CE of the value prefix
to the plain sum of rewards since the LSTM's last reset (networks.resets_value_prefix).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from agent.algorithm.spec import LearnerSpec
from agent.algorithm.targets import Targets
from networks.base import mix_value_heads, resets_value_prefix
from networks.support import scalar_to_probs


def scale_gradient(x: jax.Array, scale: float) -> jax.Array:
    """Identity forward; multiplies the gradient by `scale` backward."""
    return x * scale + jax.lax.stop_gradient(x) * (1.0 - scale)


def cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    """[..., N] logits and target distribution -> [...] cross-entropy."""
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits, axis=-1), axis=-1)


def negative_cosine_similarity(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """[B, P], [B, P] -> [B]: -cos(prediction, target), in [-1, 1]."""
    p = prediction / jnp.maximum(jnp.linalg.norm(prediction, axis=-1, keepdims=True), 1e-8)
    t = target / jnp.maximum(jnp.linalg.norm(target, axis=-1, keepdims=True), 1e-8)
    return -jnp.sum(p * t, axis=-1)


def consistency_loss(net, unrolled_latent: jax.Array, next_observation: jax.Array) -> jax.Array:
    """EfficientZero's temporal consistency for one unroll step, [B].

    The online branch projects the dynamics' latent and predicts; the target
    branch projects the representation of the real observation at t+k, with no
    gradient (SimSiam's stop-gradient).
    """
    prediction = net.project(unrolled_latent, with_predictor=True)
    target = jax.lax.stop_gradient(net.project(net.represent(next_observation), with_predictor=False))
    return negative_cosine_similarity(prediction, target)


LOSS_PARTS = ("value_loss", "policy_loss", "reward_loss", "feature_loss", "consistency_loss")


def loss_parts(observation_latent: bool) -> tuple[str, ...]:
    """The per-term metrics unroll_loss returns besides "loss" (the observation term only when the
    latent is the observation); the iteration's metric sums start from the same names."""
    return LOSS_PARTS + (("observation_loss",) if observation_latent else ())


def unroll_loss(graphdef, params, observation: jax.Array, actions: jax.Array, targets: Targets,
                weights: jax.Array, spec: LearnerSpec, next_observations: jax.Array | None = None):
    """Loss of a batch.

    observation: [B, *obs_shape] the first observation of each window.
    actions: [B, K] the actions taken after it.
    targets: Targets with a leading [B] axis.
    weights: [B] per-sample weights (importance weights; ones for uniform replay).
    next_observations: [B, K, *obs_shape] the real observations after each action (for the
      consistency loss; unused when its weight is 0).
    Returns (scalar loss, (dict of metrics, [B] the predicted value at k = 0, no gradient)).
    """
    net = nnx.merge(graphdef, params)
    k_steps = spec.unroll_steps
    latent = net.represent(observation)
    first_value = None
    parts = dict.fromkeys(loss_parts(net.observation_latent), 0.0)
    horizon = net.value_prefix_horizon
    if horizon > 0:
        lstm_state = net.initial_lstm_state(latent.shape[0])
        reward_sum = jnp.zeros(latent.shape[:1])  # the value-prefix target: rewards since the last reset
    for k in range(k_steps + 1):
        step_weight = 1.0 if k == 0 else 1.0 / k_steps
        policy_logits, value_logits = net.predict_per_head(latent)  # value: [E, B, 2V+1], E value heads
        if k == 0:
            first_value = jax.lax.stop_gradient(net.value_of(mix_value_heads(value_logits)))
        # Each value head learns the target on its own (an ensemble), not their mixture.
        value_ce = jnp.mean(cross_entropy(value_logits, net.value_target(targets.value[:, k], spec.value_support)), axis=0)
        policy_ce = cross_entropy(policy_logits, targets.policy[:, k])
        feature_err = jnp.sum((net.decode_features(latent) - targets.features[:, k]) ** 2, axis=-1)
        parts["value_loss"] += step_weight * value_ce * targets.value_mask[:, k]
        parts["policy_loss"] += step_weight * policy_ce * targets.policy_mask[:, k]
        parts["feature_loss"] += step_weight * feature_err * targets.policy_mask[:, k]
        if k < k_steps:
            if horizon > 0:
                latent, lstm_state, reward_logits = net.dynamics_prefix(latent, lstm_state, actions[:, k])
                reward_sum = reward_sum + targets.reward[:, k + 1]
                reward_target = reward_sum
                if resets_value_prefix(k + 1, horizon):  # as the search does at the same depths
                    lstm_state, reward_sum = net.initial_lstm_state(latent.shape[0]), jnp.zeros_like(reward_sum)
            else:
                latent, reward_logits = net.dynamics(latent, actions[:, k])
                reward_target = targets.reward[:, k + 1]
            if net.observation_latent:  # the model's next observation against the real one
                observation_err = jnp.sum((latent - next_observations[:, k].reshape(latent.shape)) ** 2, axis=-1)
                parts["observation_loss"] += (1.0 / k_steps) * observation_err * targets.policy_mask[:, k + 1]
            latent = scale_gradient(latent, 0.5)
            reward_ce = cross_entropy(reward_logits, scalar_to_probs(reward_target, spec.reward_support))
            parts["reward_loss"] += (1.0 / k_steps) * reward_ce * targets.reward_mask[:, k + 1]
            if spec.consistency_weight > 0:
                parts["consistency_loss"] += ((1.0 / k_steps) * targets.policy_mask[:, k + 1]
                                              * consistency_loss(net, latent, next_observations[:, k]))
    per_sample = (spec.value_weight * parts["value_loss"] + spec.policy_weight * parts["policy_loss"]
                  + spec.reward_weight * parts["reward_loss"] + spec.feature_weight * parts["feature_loss"]
                  + spec.consistency_weight * parts["consistency_loss"]
                  + spec.observation_weight * parts.get("observation_loss", 0.0))
    loss = jnp.mean(weights * per_sample)
    metrics = {name: jnp.mean(value) for name, value in parts.items()}
    metrics["loss"] = loss
    return loss, (metrics, first_value)
