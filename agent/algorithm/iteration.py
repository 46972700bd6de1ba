"""The training iteration as one jitted function (the "Anakin" pattern).

    state, metrics = agent.iteration(state)

acts `act_steps_per_iteration` steps in every env with search (scan), writes
the transitions to the device-resident replay, then runs as many learner
updates as the replay-ratio schedule owes (a while loop, so the count can vary
without recompiling). The host only logs, evaluates and checkpoints.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, struct

import envs
from agent.algorithm import replay as replay_lib
from agent.algorithm import schedules
from agent.algorithm.learner import LearnerState, make_optimizer, update
from agent.algorithm.rollout import greedy_planner, rollout
from agent.algorithm.spec import LearnerSpec
from agent.config import TrainConfig
from agent.objectives import make_objective
from networks.build import make_network
from search.models import LearnedModel
from search.objective import Objective
from search.planner import nonfinite_count, plan


@struct.dataclass
class TrainState:
    """Everything a run carries from one iteration to the next (all device arrays).

    learner: params, target params, optimiser state, update count.
    env_state: batched env State [E]; timestep: batched TimeStep [E].
    replay: the buffer. key: PRNG key.
    env_steps, episodes: [] int32 counters. owed_updates: [] float32, the
    replay-ratio schedule's fractional updates not yet run.
    episode_return: [E] running return of each env's current episode.
    """

    learner: LearnerState
    env_state: Any
    timestep: Any
    replay: replay_lib.Replay
    key: jax.Array
    env_steps: jax.Array
    episodes: jax.Array
    owed_updates: jax.Array
    episode_return: jax.Array


class Agent:
    """Builds the env, networks, optimiser and the jitted functions of one config."""

    def __init__(self, config: TrainConfig, objective: Objective | None = None):
        self.config = config
        self.env = envs.make(config.env, **config.env_kwargs)
        env = self.env
        network = make_network(env.observation_shape, env.num_actions, env.num_features, config.network,
                               rngs=nnx.Rngs(config.seed))
        self.graphdef, params = nnx.split(network)
        self._initial_params = nnx.to_pure_dict(params)
        self.model = LearnedModel(self.graphdef, env.observation_shape, env.num_actions)
        self.objective = objective or make_objective(config.env, config.value, config.discount, config.value_blend)
        self.tx = make_optimizer(config.optim)
        self.spec = LearnerSpec.from_config(config)
        self.iteration = jax.jit(self._iteration, donate_argnums=0)
        self.evaluate = jax.jit(self._evaluate, static_argnames=("episodes", "num_simulations"))

    # --- initial state -----------------------------------------------------------
    def init(self) -> TrainState:
        config, env = self.config, self.env
        key = jax.random.PRNGKey(config.seed)
        key, reset_key = jax.random.split(key)
        env_state, timestep = jax.vmap(env.reset)(jax.random.split(reset_key, config.num_envs))
        params = self._initial_params
        learner = LearnerState(params, params, self.tx.init(params), jnp.zeros((), jnp.int32))
        example = replay_lib.Transition(
            observation=timestep.observation,
            action=jnp.zeros((config.num_envs,), jnp.int32),
            reward=timestep.reward, terminated=timestep.terminated, truncated=timestep.truncated,
            policy=jnp.zeros((config.num_envs, env.num_actions)),
            features=jax.vmap(env.features)(env_state), action_mask=timestep.action_mask)
        zero = jnp.zeros((), jnp.int32)
        state = TrainState(learner=learner, env_state=env_state, timestep=timestep,
                          replay=replay_lib.init(example, config.replay.capacity_per_env), key=key,
                          env_steps=zero, episodes=zero, owed_updates=jnp.zeros((), jnp.float32),
                          episode_return=jnp.zeros((config.num_envs,)))
        # One buffer per leaf (params and target params start equal, the counters share a zero):
        # `iteration` donates its input, and donation rejects aliases.
        return jax.tree.map(lambda x: jnp.array(x, copy=True), state)

    # --- acting ------------------------------------------------------------------
    def _act_step(self, state: TrainState, key: jax.Array):
        """One search + env step in every env, with auto-reset. Returns (state, (sum of the returns of
        the episodes that ended, how many ended, NaN/inf places in the search trees))."""
        env, config = self.env, self.config
        search_key, reset_key = jax.random.split(key)
        ts = state.timestep
        out = plan(state.learner.params, search_key, ts.observation, model=self.model,
                   objective=self.objective, config=config.planner, action_mask=ts.action_mask)
        next_state, next_ts = jax.vmap(env.step)(state.env_state, out.action)
        transition = replay_lib.Transition(
            observation=ts.observation, action=out.action, reward=next_ts.reward,
            terminated=next_ts.terminated, truncated=next_ts.truncated, policy=out.action_weights,
            features=jax.vmap(env.features)(state.env_state),
            action_mask=ts.action_mask)
        replay = replay_lib.add(state.replay, transition)
        done = next_ts.done
        reset_state, reset_ts = jax.vmap(env.reset)(jax.random.split(reset_key, config.num_envs))
        pick = lambda fresh, old: jnp.where(done.reshape(done.shape + (1,) * (old.ndim - 1)), fresh, old)
        episode_return = state.episode_return + next_ts.reward
        state = state.replace(
            env_state=jax.tree.map(pick, reset_state, next_state),
            timestep=jax.tree.map(pick, reset_ts, next_ts),
            replay=replay,
            env_steps=state.env_steps + config.num_envs,
            episodes=state.episodes + jnp.sum(done),
            episode_return=jnp.where(done, 0.0, episode_return),
        )
        finished = (jnp.sum(jnp.where(done, episode_return, 0.0)), jnp.sum(done), nonfinite_count(out.tree))
        return state, finished

    def _reanalyze_policy(self, target_params, key: jax.Array, observation: jax.Array,
                          action_mask: jax.Array | None) -> jax.Array:
        """Fresh policy targets [N, A]: the acting search, re-run with the target parameters."""
        return plan(target_params, key, observation, model=self.model, objective=self.objective,
                    config=self.config.planner, action_mask=action_mask).action_weights

    # --- one iteration -------------------------------------------------------------
    def _iteration(self, state: TrainState) -> tuple[TrainState, dict]:
        config = self.config
        key, act_key, learn_key = jax.random.split(state.key, 3)
        state = state.replace(key=key)
        state, (return_sums, finished, nonfinite) = jax.lax.scan(
            self._act_step, state, jax.random.split(act_key, config.act_steps_per_iteration))

        ready = replay_lib.size(state.replay) >= config.replay.min_size_per_env
        owed = state.owed_updates + jnp.where(
            ready, schedules.replay_ratio(state.env_steps, config.replay) * config.env_steps_per_iteration, 0.0)
        num_updates = jnp.floor(owed).astype(jnp.int32)

        reanalyze = self._reanalyze_policy if config.loss.reanalyze_fraction > 0 else None

        def learn(i, carry):
            learner, replay, sums = carry
            learner, replay, metrics = update(self.graphdef, self.tx, self.spec, learner, replay,
                                              jax.random.fold_in(learn_key, i), state.env_steps, reanalyze)
            return learner, replay, jax.tree.map(jnp.add, sums, metrics)

        zeros = {name: jnp.zeros(()) for name in
                 ("loss", "value_loss", "policy_loss", "reward_loss", "feature_loss",
                                  "consistency_loss", "grad_norm")}
        learner, replay, sums = jax.lax.fori_loop(0, num_updates, learn, (state.learner, state.replay, zeros))
        state = state.replace(learner=learner, replay=replay, owed_updates=owed - num_updates)
        denom = jnp.maximum(num_updates, 1)
        metrics = {name: total / denom for name, total in sums.items()}
        metrics.update(
            updates_this_iteration=num_updates,
            episodes_finished=jnp.sum(finished),
            train_return_sum=jnp.sum(return_sums),
            nonfinite_search_values=jnp.sum(nonfinite),  # NaN/inf from the objective while acting
        )
        return state, metrics

    # --- evaluation ----------------------------------------------------------------
    def _evaluate(self, params, key: jax.Array, *, episodes: int, num_simulations: int) -> jax.Array:
        """[episodes] returns of a greedy search (no Gumbel noise) on fresh envs."""
        return rollout(self.env, self.model, params, self.objective, greedy_planner(num_simulations), key,
                       episodes)[0]


def to_host(metrics: dict) -> dict:
    return {name: np.asarray(value).item() for name, value in metrics.items()}
