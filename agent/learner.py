"""Losses over a K-step dynamics unroll, and the optax learner update.

    loss = l_0 + (1/K) sum_{k=1..K} l_k
    l_k  = w_v CE(value_k) + w_p CE(policy_k) + w_r CE(reward_k) + w_f |f_k - f_hat_k|^2

Gradients entering each dynamics step are scaled by 1/2 (MuZero), values and
rewards are cross-entropies to two-hot targets over the h-space supports. With a
value-prefix network (EfficientZero) the reward term is the CE of the value prefix
to the plain sum of rewards since the LSTM's last reset (at k = 0 and every
`value_prefix_horizon` steps).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from agent.augment import augment
from agent.config import LossConfig, OptimConfig, ReplayConfig
from agent.replay import (
    Replay,
    Transition,
    sample_prioritized,
    sample_windows,
    update_priorities,
)
from agent.targets import Targets, corrected_td_steps, n_step_targets
from networks.support import logits_to_scalar, scalar_to_probs


class LearnerState(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    updates: jax.Array  # [] int32


def scale_gradient(x: jax.Array, scale: float) -> jax.Array:
    """Identity forward; multiplies the gradient by `scale` backward."""
    return x * scale + jax.lax.stop_gradient(x) * (1.0 - scale)


def cross_entropy(logits: jax.Array, target_probs: jax.Array) -> jax.Array:
    """[..., N] logits and target distribution -> [...] cross-entropy."""
    return -jnp.sum(target_probs * jax.nn.log_softmax(logits, axis=-1), axis=-1)


def reanalyze_policy_targets(reanalyze, target_params, key: jax.Array, windows: Transition, targets: Targets,
                             count: int, unroll_steps: int) -> Targets:
    """Replaces the policy targets of the first `count` windows, rows 0..K, by fresh searches.

    The windows are sampled at random, so the first `count` are a random subset.
    """
    if count <= 0:
        return targets
    rows = unroll_steps + 1
    obs = windows.observation[:count, :rows]
    flat_obs = obs.reshape(count * rows, *obs.shape[2:])
    mask = None if windows.action_mask is None else windows.action_mask[:count, :rows].reshape(count * rows, -1)
    fresh = reanalyze(target_params, key, flat_obs, mask).reshape(count, rows, -1)
    return targets._replace(policy=targets.policy.at[:count].set(fresh))


def make_optimizer(config: OptimConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.learning_rate, warmup_steps=config.warmup_updates,
        decay_steps=config.warmup_updates + config.decay_updates,
        end_value=config.learning_rate * config.final_learning_rate_fraction)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                       optax.adamw(schedule, weight_decay=config.weight_decay))


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


def unroll_loss(graphdef, params, observation: jax.Array, actions: jax.Array, targets: Targets,
                weights: jax.Array, config: LossConfig, value_support: int, reward_support: int,
                next_observations: jax.Array | None = None):
    """Loss of a batch.

    observation: [B, O] the first observation of each window.
    next_observations: [B, K, O] the real observations after each action (for the
      consistency loss; None when it is off).
    actions: [B, K] the actions taken after it.
    targets: Targets with a leading [B] axis.
    weights: [B] per-sample weights (importance weights; ones for uniform replay).
    Returns (scalar loss, dict of metrics).
    """
    net = nnx.merge(graphdef, params)
    k_steps = config.unroll_steps
    latent = net.represent(observation)
    first_value = None
    parts = {"value_loss": 0.0, "policy_loss": 0.0, "reward_loss": 0.0, "feature_loss": 0.0,
             "consistency_loss": 0.0}
    horizon = net.value_prefix_horizon
    if horizon > 0:
        lstm_state = net.initial_lstm_state(latent.shape[0])
        reward_sum = jnp.zeros(latent.shape[:1])  # the value-prefix target: rewards since the last reset
    for k in range(k_steps + 1):
        step_weight = 1.0 if k == 0 else 1.0 / k_steps
        policy_logits, value_logits = net.predict(latent)
        if k == 0:
            first_value = jax.lax.stop_gradient(logits_to_scalar(value_logits))
        value_ce = cross_entropy(value_logits, scalar_to_probs(targets.value[:, k], value_support))
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
                if (k + 1) % horizon == 0:  # reset, as the search does at the same depths
                    lstm_state, reward_sum = net.initial_lstm_state(latent.shape[0]), jnp.zeros_like(reward_sum)
            else:
                latent, reward_logits = net.dynamics(latent, actions[:, k])
                reward_target = targets.reward[:, k + 1]
            latent = scale_gradient(latent, 0.5)
            reward_ce = cross_entropy(reward_logits, scalar_to_probs(reward_target, reward_support))
            parts["reward_loss"] += (1.0 / k_steps) * reward_ce * targets.reward_mask[:, k + 1]
            if config.consistency_weight > 0:
                parts["consistency_loss"] += ((1.0 / k_steps) * targets.policy_mask[:, k + 1]
                                              * consistency_loss(net, latent, next_observations[:, k]))
    per_sample = (config.value_weight * parts["value_loss"] + config.policy_weight * parts["policy_loss"]
                  + config.reward_weight * parts["reward_loss"] + config.feature_weight * parts["feature_loss"]
                  + config.consistency_weight * parts["consistency_loss"])
    loss = jnp.mean(weights * per_sample)
    metrics = {name: jnp.mean(value) for name, value in parts.items()}
    metrics["loss"] = loss
    return loss, (metrics, first_value)


def target_values(graphdef, target_params, observations: jax.Array, lead_dims: int = 2) -> jax.Array:
    """[*lead, *obs_shape] observations (`lead_dims` leading axes) -> [*lead] the target
    network's value (no search)."""
    net = nnx.merge(graphdef, target_params)
    lead = observations.shape[:lead_dims]
    flat = observations.reshape(-1, *observations.shape[lead_dims:])
    _, value_logits = net.predict(net.represent(flat))
    return logits_to_scalar(value_logits).reshape(lead)


def update(graphdef, tx: optax.GradientTransformation, state: LearnerState, replay: Replay, key: jax.Array,
           *, config: LossConfig, batch_size: int, discount: float, value_support: int,
           reward_support: int, total_env_steps: int = 1, env_steps: jax.Array | int = 0,
           prioritized: ReplayConfig | None = None, reanalyze=None) -> tuple[LearnerState, Replay, dict]:
    """One learner step: sample windows, build targets, take a gradient step.

    With `prioritized` (the ReplayConfig, when PER is on), windows are drawn by priority, the loss is weighted by
    importance weights (beta annealed from beta_start to 1 over the run), and the
    sampled starts get new priorities |predicted value - target value| + eps.
    With `reanalyze` (fn(target_params, key, obs [N, O], mask [N, A]) -> [N, A]),
    the policy targets of the first `reanalyze_fraction` of the batch are
    replaced by fresh searches with the target parameters (EfficientZero).
    Returns (learner state, replay with updated priorities, metrics).
    """
    k_steps, n = config.unroll_steps, config.td_steps
    length = k_steps + n + 1
    if prioritized is None:
        windows, age = sample_windows(replay, key, batch_size, length)
        weights = jnp.ones((batch_size,))
    else:
        progress = jnp.clip(env_steps / total_env_steps, 0.0, 1.0)
        beta = prioritized.priority_beta_start + progress * (1.0 - prioritized.priority_beta_start)
        windows, age, weights, index = sample_prioritized(replay, key, batch_size, length,
                                                          prioritized.priority_alpha, beta)
    if config.off_policy_correction:
        # Rows are steps of every env at once: a row's age in env steps is age x num_envs.
        horizon = corrected_td_steps(age * replay.num_envs, n, total_env_steps)
        first_bootstrap = 1
    else:
        horizon = jnp.full((batch_size,), n, jnp.int32)
        first_bootstrap = n
    bootstrap = jnp.zeros(windows.reward.shape)
    bootstrap = bootstrap.at[:, first_bootstrap:].set(
        target_values(graphdef, state.target_params, windows.observation[:, first_bootstrap:]))
    targets = jax.vmap(lambda w, b, h: n_step_targets(w, b, k_steps, n, discount, h))(windows, bootstrap, horizon)
    if reanalyze is not None:
        key, reanalyze_key = jax.random.split(key)
        targets = reanalyze_policy_targets(reanalyze, state.target_params, reanalyze_key, windows, targets,
                                           int(round(config.reanalyze_fraction * batch_size)), k_steps)
    # The observations the loss reads: row 0 (representation) and rows 1..K (consistency targets).
    observations = windows.observation[:, :k_steps + 1]
    if config.augmentation:
        key, augment_key = jax.random.split(key)
        flat = observations.reshape(-1, *observations.shape[2:])
        observations = augment(augment_key, flat).reshape(observations.shape)
    grad_fn = jax.grad(unroll_loss, argnums=1, has_aux=True)
    grads, (metrics, predicted_value) = grad_fn(
        graphdef, state.params, observations[:, 0], windows.action[:, :k_steps], targets, weights, config,
        value_support, reward_support, observations[:, 1:])
    if prioritized is not None:
        replay = update_priorities(replay, index, jnp.abs(predicted_value - targets.value[:, 0]) + prioritized.priority_eps)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    count = state.updates + 1
    refresh = count % config.target_update_interval == 0
    target_params = jax.tree.map(lambda new, old: jnp.where(refresh, new, old), params, state.target_params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    return LearnerState(params, target_params, opt_state, count), replay, metrics
