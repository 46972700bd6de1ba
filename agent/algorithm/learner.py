"""One learner update: sample windows, build targets, take an optax step.

    learner, replay, metrics = update(graphdef, tx, spec, learner, replay, key, env_steps)

`spec` (agent.algorithm.spec.LearnerSpec) carries every setting; the losses are in
agent.algorithm.losses, the targets in agent.algorithm.targets, the schedules in
agent.algorithm.schedules.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh

from agent.algorithm import schedules
from agent.algorithm.augment import augment, batch_scaled_noise, mirror_windows
from agent.algorithm.losses import unroll_loss
from agent.algorithm.replay import (
    Replay,
    Transition,
    sample_prioritized,
    sample_windows,
    update_priorities,
    with_returns_to_go,
)
from agent.algorithm.sharding import shard_batch
from agent.algorithm.spec import LearnerSpec
from agent.algorithm.targets import Targets, first_truncation, n_step_targets
from agent.config import OptimConfig
from networks.layers import as_float_pixels
from search.models import LearnedModel


class LearnerState(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    updates: jax.Array  # [] int32


def make_optimizer(config: OptimConfig) -> optax.GradientTransformation:
    """AdamW with linear warm-up then cosine decay, after clipping by global norm."""
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.learning_rate, warmup_steps=config.warmup_updates,
        decay_steps=config.warmup_updates + config.decay_updates,
        end_value=config.learning_rate * config.final_learning_rate_fraction)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                       optax.adamw(schedule, weight_decay=config.weight_decay))


def target_values(graphdef, target_params, observations: jax.Array, lead_dims: int = 2) -> jax.Array:
    """[*lead, *obs_shape] observations (`lead_dims` leading axes) -> [*lead] the target
    network's value (no search)."""
    net = nnx.merge(graphdef, target_params)
    lead = observations.shape[:lead_dims]
    flat = observations.reshape(-1, *observations.shape[lead_dims:])
    _, value_logits = net.predict(net.represent(flat))
    return net.value_of(value_logits).reshape(lead)


def lookahead_values(graphdef, target_params, observations: jax.Array, discount: float,
                     action_mask: jax.Array | None = None, lead_dims: int = 2) -> jax.Array:
    """[*lead, *obs_shape] observations -> [*lead] the target network's best one-step lookahead,
    max over legal actions a of r(s, a) + discount x v(g(s, a)), with its learned model.

    Bootstrapping on this instead of v(s) teaches the value head the value of acting greedily
    from s rather than the value of the acting policy, whose Gumbel noise and still-uniform prior
    blur the differences between neighbouring states that greedy play is decided by.
    action_mask: [*lead, A] legal actions (None: all legal).
    """
    lead, obs_shape = observations.shape[:lead_dims], observations.shape[lead_dims:]
    # The search's own model calls (value-prefix networks included), so that the lookahead is the one
    # the search would make.
    model = LearnedModel(graphdef, obs_shape, nnx.merge(graphdef, target_params).num_actions)
    root = model.root(target_params, observations.reshape(-1, *obs_shape))
    batch = root.prior_logits.shape[0]
    q = []
    for action in range(model.num_actions):
        reward, _, child = model.step(target_params, root.embedding, jnp.full((batch,), action, jnp.int32))
        q.append(reward + discount * child.learned_value)
    q = jnp.stack(q, axis=-1)  # [N, A]
    if action_mask is not None:
        q = jnp.where(action_mask.reshape(batch, -1), q, -jnp.inf)
    return jnp.max(q, axis=-1).reshape(lead)


def reanalyze_targets(reanalyze, target_params, key: jax.Array, windows: Transition, targets: Targets,
                      age_env_steps: jax.Array, policy_count: int, unroll_steps: int,
                      mixed_value_age: int | None = None) -> Targets:
    """Targets from fresh searches with the target parameters at rows 0..K: the policy targets of
    the first `policy_count` windows (EfficientZero's reanalyze) and, with `mixed_value_age`, the
    value targets of every window older than that many env steps (EfficientZero V2's mixed value
    target; past a termination the value target stays 0, and past a time limit it is masked).

    reanalyze: fn(target_params, key, observations [N, *obs], mask [N, A] or None) -> (action
      weights [N, A], root values [N]).
    windows: [B, K+n+1, ...]; age_env_steps: [B] how many env steps ago each window's first row
    was collected. The windows are sampled at random, so the first `policy_count` are a random subset.
    """
    count = windows.observation.shape[0] if mixed_value_age is not None else policy_count
    if count <= 0:
        return targets
    rows = unroll_steps + 1
    obs = windows.observation[:count, :rows]
    flat_obs = obs.reshape(count * rows, *obs.shape[2:])
    mask = None if windows.action_mask is None else windows.action_mask[:count, :rows].reshape(count * rows, -1)
    weights, values = reanalyze(target_params, key, flat_obs, mask)
    policy = targets.policy.at[:policy_count].set(weights.reshape(count, rows, -1)[:policy_count])
    value = targets.value
    if mixed_value_age is not None:
        stale = age_env_steps > mixed_value_age  # [B]
        in_episode = targets.policy_mask > 0  # [B, K+1]: row k is in row 0's episode
        value = jnp.where(stale[:, None] & in_episode, values.reshape(count, rows), value)
    return targets._replace(policy=policy, value=value)


def sample(spec: LearnerSpec, replay: Replay, key: jax.Array, env_steps: jax.Array | int):
    """Windows [B, K+n+1, ...], their age in rows [B], importance weights [B] and (PER only)
    the flat indices of their starts, uniformly or by priority. With spec.value_lower_bound the
    windows carry each row's return to its episode's end (replay.returns_to_go)."""
    if spec.value_lower_bound:
        replay = with_returns_to_go(replay, spec.discount)
    if not spec.prioritized:
        windows, age = sample_windows(replay, key, spec.batch_size, spec.window, spec.sample_to_head)
        return windows, age, jnp.ones((spec.batch_size,)), None
    beta = schedules.priority_beta(env_steps, spec.total_env_steps, spec.priority_beta_start)
    windows, age, weights, index = sample_prioritized(replay, key, spec.batch_size, spec.window,
                                                      spec.priority_alpha, beta, spec.sample_to_head)
    return windows, age, weights, index


def make_targets(graphdef, spec: LearnerSpec, target_params, windows: Transition, age: jax.Array,
                 num_envs: int) -> Targets:
    """n-step targets [B, K+1, ...] bootstrapped on the target network's values, or on the acting
    search's root values stored in replay (spec.bootstrap 'search'); a time limit always bootstraps
    on the target network's value of the final observation (no search ran there)."""
    k_steps, n, batch = spec.unroll_steps, spec.td_steps, spec.batch_size
    if spec.off_policy_correction:
        # Rows are steps of every env at once: a row's age in env steps is age x num_envs.
        horizon = schedules.corrected_td_steps(age * num_envs, n, spec.total_env_steps)
        first_bootstrap = 1
    else:
        horizon = jnp.full((batch,), n, jnp.int32)
        first_bootstrap = n
    bootstrap = jnp.zeros(windows.reward.shape)
    if spec.bootstrap == "search":
        bootstrap = bootstrap.at[:, first_bootstrap:].set(windows.root_value[:, first_bootstrap:])
    elif spec.bootstrap == "lookahead":
        mask = None if windows.action_mask is None else windows.action_mask[:, first_bootstrap:]
        bootstrap = bootstrap.at[:, first_bootstrap:].set(
            lookahead_values(graphdef, target_params, windows.observation[:, first_bootstrap:], spec.discount, mask))
    else:
        bootstrap = bootstrap.at[:, first_bootstrap:].set(
            target_values(graphdef, target_params, windows.observation[:, first_bootstrap:]))
    if windows.final_observation is None:
        truncation_value = jnp.zeros((batch,))
    else:  # one value per window: that of the final observation at its first time limit (if any)
        final = windows.final_observation[jnp.arange(batch), jax.vmap(first_truncation)(windows)]
        if spec.bootstrap == "lookahead":  # the final observation's legality is unknown: all actions
            truncation_value = lookahead_values(graphdef, target_params, final, spec.discount, lead_dims=1)
        else:
            truncation_value = target_values(graphdef, target_params, final, lead_dims=1)
    return jax.vmap(lambda w, b, h, v: n_step_targets(w, b, k_steps, n, spec.discount, h, v))(
        windows, bootstrap, horizon, truncation_value)


def loss_observations(spec: LearnerSpec, key: jax.Array, observations: jax.Array) -> jax.Array:
    """[B, K+1, *obs] -> the same, as the loss reads them: row 0 feeds the representation, rows 1..K
    are the consistency and observation targets. Images (spec.augmentation) are shifted and scaled
    on every row; vector observations (spec.observation_noise) get noise on row 0 only, so the
    targets stay clean."""
    if spec.augmentation:
        key, augment_key = jax.random.split(key)
        flat = observations.reshape(-1, *observations.shape[2:])
        observations = augment(augment_key, flat).reshape(observations.shape)
    if spec.observation_noise > 0:
        key, noise_key = jax.random.split(key)
        observations = observations.at[:, 0].set(batch_scaled_noise(noise_key, observations[:, 0],
                                                                    spec.observation_noise))
    return observations


def update(graphdef, tx: optax.GradientTransformation, spec: LearnerSpec, state: LearnerState, replay: Replay,
           key: jax.Array, env_steps: jax.Array | int = 0, reanalyze=None,
           mesh: Mesh | None = None) -> tuple[LearnerState, Replay, dict]:
    """One learner step: sample windows, build targets, take a gradient step.

    With PER (spec.prioritized), windows are drawn by priority, the loss is weighted by
    importance weights, and the sampled starts get new priorities |predicted value -
    target value| + eps. With `reanalyze` (see reanalyze_targets), spec.reanalyze_count
    windows get fresh policy targets from searches with the target parameters (EfficientZero),
    and with spec.mixed_value_age the windows older than that get fresh value targets
    (EfficientZero V2).
    With a `mesh` of several devices, the sampled windows are split over its devices (data
    parallel; agent.algorithm.sharding).
    Returns (learner state, replay with updated priorities, metrics).
    """
    k_steps = spec.unroll_steps
    windows, age, weights, index = sample(spec, replay, key, env_steps)
    windows, age, weights = shard_batch((windows, age, weights), mesh)
    targets = make_targets(graphdef, spec, state.target_params, windows, age, replay.num_envs)
    if reanalyze is not None:
        key, reanalyze_key = jax.random.split(key)
        # Rows are steps of every env at once: a row's age in env steps is age x num_envs.
        targets = reanalyze_targets(reanalyze, state.target_params, reanalyze_key, windows, targets,
                                    age * replay.num_envs, spec.reanalyze_count, k_steps, spec.mixed_value_age)
    # Where the targets meet the losses: every target has the batch and unroll axes.
    chex.assert_shape([targets.value, targets.reward, targets.value_mask, targets.reward_mask,
                       targets.policy_mask], (spec.batch_size, k_steps + 1))
    chex.assert_shape(targets.policy, (spec.batch_size, k_steps + 1, None))
    observations = loss_observations(spec, key, as_float_pixels(windows.observation[:, :k_steps + 1]))
    actions = windows.action[:, :k_steps]
    if spec.mirror is not None:
        # Its own key (folded in), so that every other draw is the same as without the mirror.
        observations, actions, policy, features = mirror_windows(
            spec.mirror, jax.random.fold_in(key, 1), observations, actions, targets.policy, targets.features)
        targets = targets._replace(policy=policy, features=features)
    grad_fn = jax.grad(unroll_loss, argnums=1, has_aux=True)
    grads, (metrics, predicted_value) = grad_fn(
        graphdef, state.params, observations[:, 0], actions, targets, weights, spec, observations[:, 1:])
    if spec.prioritized:
        replay = update_priorities(replay, index, jnp.abs(predicted_value - targets.value[:, 0]) + spec.priority_eps)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    count = state.updates + 1
    if spec.target_ema > 0:
        target_params = optax.incremental_update(params, state.target_params, spec.target_ema)
    else:
        refresh = count % spec.target_update_interval == 0
        target_params = jax.tree.map(lambda new, old: jnp.where(refresh, new, old), params, state.target_params)
    metrics["grad_norm"] = optax.tree.norm(grads)
    return LearnerState(params, target_params, opt_state, count), replay, metrics
