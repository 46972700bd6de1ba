"""The training iteration as one jitted function (the "Anakin" pattern), for S seeds at once.

    agent = Agent(config)
    state = agent.init()                     # TrainState, every leaf [S, ...]
    state, metrics = agent.iteration(state)  # metrics: {name: [S]}
    returns = agent.evaluate(state.learner.params, agent.eval_keys(env_steps), episodes=20,
                             num_simulations=16)  # [S, episodes]

Seeds are a batch axis (vmap): seed i of a run is `config.seed + i`, and everything of it
(network initialisation, env resets, search noise, replay samples) comes from the key
`jax.random.PRNGKey(config.seed + i)`, so seed i of an 8-seed run is the single-seed run of
`--seed config.seed + i` (up to float reordering in the batched program).

An iteration acts `act_steps_per_iteration` steps in every env with search (scan), writes
the transitions to the device-resident replay, then runs as many learner updates as the
replay-ratio schedule owes (a fori loop, so the count can vary without recompiling). Every
seed takes the same number of env steps, so the schedule's count is one number for all seeds:
the update loop stays one loop with the seeds vmapped inside it. With
`replay.updates_per_episode` seeds owe different counts (their episodes end at different
times): the loop runs the most any seed owes and masks each seed's surplus updates out. The
host only logs, evaluates and checkpoints.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, struct
from jax.sharding import NamedSharding, PartitionSpec

import envs
from agent.algorithm import replay as replay_lib
from agent.algorithm import schedules
from agent.algorithm.learner import LearnerState, make_optimizer, update
from agent.algorithm.losses import loss_parts
from agent.algorithm.rollout import greedy_planner, rollout
from agent.algorithm.sharding import host_value, make_mesh, state_shardings
from agent.algorithm.spec import LearnerSpec
from agent.config import ConfigError, TrainConfig
from agent.objectives import make_objective
from networks.build import make_network
from search.models import LearnedModel
from search.objective import Objective
from search.planner import nonfinite_count, plan


@struct.dataclass
class TrainState:
    """Everything one seed of a run carries from one iteration to the next (all device arrays;
    a run's state has a leading [S] seed axis on every leaf).

    learner: params, target params, optimiser state, update count.
    env_state: batched env State [E]; timestep: batched TimeStep [E].
    replay: the buffer. key: PRNG key.
    env_steps, episodes: [] int32 counters. owed_updates: [] float32, updates owed
    and not yet run (the schedule's fractions, and with `replay.updates_per_episode` the
    banked credit of finished episodes).
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


def held_noise_key(step_key: jax.Array, noise_key: jax.Array | None, env_steps: jax.Array, num_envs: int,
                   hold: int) -> jax.Array:
    """The acting search's key: `step_key` (fresh noise every step) with hold 1, else one key per
    block of `hold` steps of each env, the same for every step of the block (the Gumbel noise is the
    search's only use of its key, so the noise is held; TrainConfig.noise_hold_steps)."""
    if hold == 1:
        return step_key
    return jax.random.fold_in(noise_key, env_steps // (num_envs * hold))


class Agent:
    """Builds the env, networks, optimiser and the jitted functions of one config."""

    def __init__(self, config: TrainConfig, objective: Objective | None = None):
        self.config = config
        self.env = envs.make(config.env, **config.env_kwargs)
        self.host = envs.is_host_env(self.env)  # gymnasium:<id>, atari:<Game>: stepped outside `iteration`
        self.graphdef = nnx.split(self._network(nnx.Rngs(0)))[0]  # the structure; parameters come from keys
        self.model = LearnedModel(self.graphdef, self.env.observation_shape, self.env.num_actions)
        self.objective = objective or make_objective(config.env, config.value, config.discount, config.value_blend)
        self.tx = make_optimizer(config.optim)
        self.spec = LearnerSpec.from_config(config)
        self.mesh = make_mesh(self.device_count(config))
        # [S] keys of the held search noise (noise_hold_steps > 1), PRNGKey(seed + 20,000) for each seed:
        # constants of the run, not state, so checkpoints keep their layout.
        self.noise_keys = self.seed_keys(offset=20_000) if config.noise_hold_steps > 1 else None
        abstract = jax.eval_shape(jax.vmap(self.init_seed), self.seed_keys())
        self.shardings = state_shardings(self.mesh, abstract)
        # Metrics and evaluation returns come back replicated: every process reads them whole.
        replicated = NamedSharding(self.mesh, PartitionSpec())
        self.iteration = jax.jit(self._iteration, donate_argnums=0, in_shardings=(self.shardings,),
                                 out_shardings=(self.shardings, replicated))
        self.evaluate = jax.jit(self._evaluate, static_argnames=("episodes", "num_simulations"),
                                out_shardings=replicated)
        # Host envs (gymnasium:<id>, atari:<Game>): agent.host.host_env_loop steps them on the host (and
        # agent.host.xla_env_loop steps Atari games inside its own jitted function) and calls these instead of
        # `iteration` and `evaluate`.
        self.host_keys = jax.jit(self._host_keys, donate_argnums=0)
        self.host_search = jax.jit(self._host_search)
        self.host_learn = jax.jit(self._host_learn, donate_argnums=0, out_shardings=(self.shardings, replicated))
        self.cut_episodes = jax.jit(self._cut_episodes, donate_argnums=0)
        self._init = jax.jit(jax.vmap(self.init_seed), out_shardings=self.shardings)

    @staticmethod
    def device_count(config: TrainConfig) -> int:
        """The devices a run of `config` uses here (config.devices; 0: every local device), checked
        against what must split evenly over them."""
        if jax.process_count() > 1:  # several processes: the mesh spans every device of every process
            count = config.devices or jax.device_count()
            if count != jax.device_count():
                raise ConfigError(f"--devices {count}: a run over {jax.process_count()} processes uses all their "
                                  f"{jax.device_count()} devices; pass --devices 0 (or {jax.device_count()})")
        else:
            count = config.devices or jax.local_device_count()
        if count > jax.device_count():
            raise ConfigError(f"--devices {count}: this process sees {jax.local_device_count()} local device(s) "
                              f"({jax.local_devices()[0].platform}); use --devices {jax.local_device_count()} or fewer")
        for name, value in (("num-envs", config.num_envs), ("replay.batch-size", config.replay.batch_size)):
            if value % count:
                raise ConfigError(f"--{name} {value} does not split over {count} devices"
                                 f"{' (all local devices: --devices 0)' if not config.devices else ''}; "
                                 f"make it a multiple of {count}, or pass a --devices that divides both "
                                 f"--num-envs {config.num_envs} and --replay.batch-size {config.replay.batch_size}")
        return count

    def _network(self, rngs: nnx.Rngs):
        env = self.env
        return make_network(env.observation_shape, env.num_actions, env.num_features, self.config.network, rngs=rngs)

    # --- seeds -------------------------------------------------------------------
    @property
    def seeds(self) -> list[int]:
        """The seed numbers of this run: config.seed, ..., config.seed + config.seeds - 1."""
        return [self.config.seed + i for i in range(self.config.seeds)]

    def seed_keys(self, offset: int = 0) -> np.ndarray:
        """[S] keys, PRNGKey(seed + offset) for each seed of the run (host numpy: every process of a
        multi-process run passes the same ones)."""
        return np.stack([np.asarray(jax.random.PRNGKey(seed + offset)) for seed in self.seeds])

    def eval_keys(self, env_steps: int) -> np.ndarray:
        """[S] keys of the evaluation at `env_steps`: each seed's own, whatever runs beside it."""
        return np.asarray(jax.vmap(jax.random.fold_in, in_axes=(0, None))(self.seed_keys(offset=10_000), env_steps))

    # --- initial state -----------------------------------------------------------
    def init(self, keys: jax.Array | None = None) -> TrainState:
        """The run's initial state, every leaf [S, ...] (keys: [S] keys; default seed_keys())."""
        state = self._init(self.seed_keys() if keys is None else keys)
        # One buffer per leaf (params and target params start equal, the counters share a zero):
        # `iteration` donates its input, and donation rejects aliases.
        if jax.process_count() > 1:  # arrays spanning processes: copied by a jitted function
            return jax.jit(lambda s: jax.tree.map(lambda x: x + jnp.zeros_like(x), s), out_shardings=self.shardings)(state)
        return jax.tree.map(lambda x: jnp.array(x, copy=True, device=x.sharding), state)

    def init_seed(self, key: jax.Array) -> TrainState:
        """One seed's initial state from its key (pure: jit- and vmap-able)."""
        config, env = self.config, self.env
        param_key, key = jax.random.split(key)
        key, reset_key = jax.random.split(key)
        if self.host:
            env_state, timestep = host_placeholders(env, config.num_envs)
        else:
            env_state, timestep = jax.vmap(env.reset)(jax.random.split(reset_key, config.num_envs))
        params = nnx.to_pure_dict(nnx.split(self._network(nnx.Rngs(param_key)))[1])
        learner = LearnerState(params, params, self.tx.init(params), jnp.zeros((), jnp.int32))
        example = replay_lib.Transition(
            observation=timestep.observation,
            action=jnp.zeros((config.num_envs,), jnp.int32),
            reward=timestep.reward, terminated=timestep.terminated, truncated=timestep.truncated,
            policy=jnp.zeros((config.num_envs, env.num_actions)),
            features=jnp.zeros((config.num_envs, env.num_features)) if self.host else
            jax.vmap(env.features)(env_state), action_mask=timestep.action_mask,
            final_observation=timestep.observation,
            root_value=jnp.zeros((config.num_envs,)) if self.spec.bootstrap == "search" else None)
        zero = jnp.zeros((), jnp.int32)
        state = TrainState(learner=learner, env_state=env_state, timestep=timestep,
                          replay=replay_lib.init(example, config.replay.capacity_per_env), key=key,
                          env_steps=zero, episodes=zero, owed_updates=jnp.zeros((), jnp.float32),
                          episode_return=jnp.zeros((config.num_envs,)))
        return state

    # --- acting ------------------------------------------------------------------
    def _act_step(self, state: TrainState, key: jax.Array, noise_key: jax.Array | None = None):
        """One search + env step in every env, with auto-reset. Returns (state, (sum of the returns of
        the episodes that ended, how many ended, NaN/inf places in the search trees))."""
        env, config = self.env, self.config
        search_key, reset_key = jax.random.split(key)
        search_key = held_noise_key(search_key, noise_key, state.env_steps, config.num_envs, config.noise_hold_steps)
        ts = state.timestep
        out = plan(state.learner.params, search_key, ts.observation, model=self.model,
                   objective=self.objective, config=config.planner, action_mask=ts.action_mask)
        next_state, next_ts = jax.vmap(env.step)(state.env_state, out.action)
        transition = replay_lib.Transition(
            observation=ts.observation, action=out.action, reward=next_ts.reward,
            terminated=next_ts.terminated, truncated=next_ts.truncated, policy=out.action_weights,
            features=jax.vmap(env.features)(state.env_state),
            action_mask=ts.action_mask, final_observation=next_ts.observation,
            root_value=out.root_value if self.spec.bootstrap == "search" else None)
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

    def _reanalyze(self, target_params, key: jax.Array, observation: jax.Array,
                   action_mask: jax.Array | None) -> tuple[jax.Array, jax.Array]:
        """The acting search, re-run with the target parameters: fresh policy targets [N, A] and
        root values [N]."""
        out = plan(target_params, key, observation, model=self.model, objective=self.objective,
                   config=self.config.planner, action_mask=action_mask)
        return out.action_weights, out.root_value

    # --- one iteration -------------------------------------------------------------
    def _act(self, state: TrainState, noise_key: jax.Array | None = None) -> tuple[TrainState, jax.Array, tuple]:
        """One seed's acting: `act_steps_per_iteration` steps of every env. Returns (state, the key of
        this iteration's learner updates, (sum of finished episodes' returns, episodes finished,
        NaN/inf places in the search trees)). noise_key: the seed's held-noise key (Agent.noise_keys)."""
        key, act_key, learn_key = jax.random.split(state.key, 3)
        state = state.replace(key=key)
        state, (return_sums, finished, nonfinite) = jax.lax.scan(
            functools.partial(self._act_step, noise_key=noise_key), state,
            jax.random.split(act_key, self.config.act_steps_per_iteration))
        return state, learn_key, (jnp.sum(return_sums), jnp.sum(finished), jnp.sum(nonfinite))

    def _iteration(self, state: TrainState) -> tuple[TrainState, dict]:
        """state [S, ...] -> (state, {metric: [S]})."""
        noise_keys = None if self.noise_keys is None else jnp.asarray(self.noise_keys)  # None: no leaves to vmap
        state, learn_keys, (return_sums, finished, nonfinite) = jax.vmap(self._act)(state, noise_keys)
        return self._learn(state, learn_keys, return_sums, finished, nonfinite)

    def _learn(self, state: TrainState, learn_keys: jax.Array, return_sums: jax.Array, finished: jax.Array,
               nonfinite: jax.Array) -> tuple[TrainState, dict]:
        """The learner half of an iteration, after its acting: as many updates as the replay-ratio
        schedule owes (and `replay.updates_per_episode` for each episode a seed finished). state [S, ...],
        learn_keys [S]; the acting's episode sums [S] go into the metrics."""
        config = self.config
        # Every seed has taken the same env steps and holds the same replay size: read seed 0's.
        env_steps = state.env_steps[0]
        ready = replay_lib.size(seed_slice(state.replay, 0)) >= config.replay.min_size_per_env
        owed_now = schedules.replay_ratio(env_steps, config.replay) * config.env_steps_per_iteration
        # Per episode, seeds owe different counts: they run the most any seed owes, each seed's
        # surplus updates masked out (a static switch, so step-ratio runs copy nothing).
        per_seed = config.replay.updates_per_episode > 0
        if per_seed:
            owed_now = owed_now + config.replay.updates_per_episode * finished
        owed = state.owed_updates + jnp.where(ready, owed_now, 0.0)  # [S]
        if per_seed and config.replay.updates_per_episode_max_ratio > 0:
            # Spend at most max_ratio per env step; bank at most one episode's worth beyond that.
            cap = config.replay.updates_per_episode_max_ratio * config.env_steps_per_iteration
            num_updates = jnp.floor(jnp.minimum(owed, cap)).astype(jnp.int32)  # [S]
            owed = jnp.minimum(owed, num_updates + config.replay.updates_per_episode)
        else:
            num_updates = jnp.floor(owed).astype(jnp.int32)  # [S]

        reanalyze = self._reanalyze if self.spec.reanalyzes else None
        update_seeds = jax.vmap(lambda learner, replay, key: update(self.graphdef, self.tx, self.spec, learner,
                                                                     replay, key, env_steps, reanalyze, self.mesh))

        def learn(i, carry):
            learner, replay, sums = carry
            keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(learn_keys, i)
            updated = update_seeds(learner, replay, keys)
            if per_seed:
                run = i < num_updates  # [S]: this seed still owes an update
                def keep(new, old):  # this seed's new value where it still owes an update, else its old one
                    return jnp.where(run.reshape(run.shape + (1,) * (new.ndim - 1)), new, old)

                no_metrics = jax.tree.map(jnp.zeros_like, sums)
                updated = jax.tree.map(keep, updated, (learner, replay, no_metrics))
            learner, replay, metrics = updated
            return learner, replay, jax.tree.map(jnp.add, sums, metrics)

        seeds = state.env_steps.shape[0]
        metric_names = ("loss", *loss_parts(self.config.network.observation_latent), "grad_norm")
        zeros = {name: jnp.zeros((seeds,)) for name in metric_names}
        learner, replay, sums = jax.lax.fori_loop(0, jnp.max(num_updates), learn,
                                                  (state.learner, state.replay, zeros))
        state = state.replace(learner=learner, replay=replay, owed_updates=owed - num_updates)
        denom = jnp.maximum(num_updates, 1)
        metrics = {name: total / denom for name, total in sums.items()}
        metrics.update(
            updates_this_iteration=num_updates,
            episodes_finished=finished,
            train_return_sum=return_sums,
            nonfinite_search_values=nonfinite,  # NaN/inf from the objective while acting
        )
        return state, metrics

    # --- host envs (gymnasium:<id>, atari:<Game>): stepped outside `iteration`, search and learner jitted ---
    def _host_keys(self, state: TrainState) -> tuple[TrainState, jax.Array, jax.Array]:
        """state [S, ...] -> (state with fresh keys, the search keys [S, T] of this iteration's T acting
        steps, the learner keys [S]): the same splits as `_act` makes."""
        def one(key):
            key, act_key, learn_key = jax.random.split(key, 3)
            step_keys = jax.random.split(act_key, self.config.act_steps_per_iteration)
            return key, jax.vmap(lambda k: jax.random.split(k)[0])(step_keys), learn_key

        key, search_keys, learn_keys = jax.vmap(one)(state.key)
        return state.replace(key=key), search_keys, learn_keys

    def _host_search(self, params, keys: jax.Array, observation: jax.Array) -> tuple[jax.Array, ...]:
        """The acting search for host envs: params [S, ...], keys [S], observation [S, E, *obs] ->
        (action [S, E], policy target [S, E, A], root value [S, E], NaN/inf places [S])."""
        def one(p, key, obs):
            out = plan(p, key, obs, model=self.model, objective=self.objective, config=self.config.planner)
            return out.action, out.action_weights, out.root_value, nonfinite_count(out.tree)

        return jax.vmap(one)(params, keys, observation)

    def _host_learn(self, state: TrainState, steps: replay_lib.Transition, learn_keys: jax.Array,
                    observation: jax.Array, episode_return: jax.Array, return_sums: jax.Array,
                    finished: jax.Array, nonfinite: jax.Array) -> tuple[TrainState, dict]:
        """Writes the T steps the host took (steps: Transition of [T, S, E, ...]) into replay, then
        learns as `_iteration` does. observation [S, E, *obs]: what the envs show now (kept in the
        state's timestep); episode_return [S, E]: the running returns."""
        replay = jax.vmap(lambda r, seq: jax.lax.scan(lambda r, step: (replay_lib.add(r, step), None), r, seq)[0],
                          in_axes=(0, 1))(state.replay, steps)
        t_steps = steps.action.shape[0]
        state = state.replace(
            replay=replay, timestep=state.timestep._replace(observation=observation),
            env_steps=state.env_steps + t_steps * self.config.num_envs,
            episodes=state.episodes + finished, episode_return=episode_return)
        return self._learn(state, learn_keys, return_sums, finished, nonfinite)

    def _cut_episodes(self, state: TrainState) -> TrainState:
        """Marks every stream's latest step as truncated: a resumed host run starts fresh episodes,
        so the ones in progress were cut there (their last observation is kept to bootstrap on). A latest
        step that terminated its episode stays terminal (never both)."""
        def cut(replay):
            row = (replay.inserted - 1) % replay.capacity
            cut_row = replay.data.truncated[row] | ((replay.inserted > 0) & ~replay.data.terminated[row])
            return replay.replace(data=replay.data._replace(truncated=replay.data.truncated.at[row].set(cut_row)))

        return state.replace(replay=jax.vmap(cut)(state.replay), episode_return=jnp.zeros_like(state.episode_return))

    # --- evaluation ----------------------------------------------------------------
    def _evaluate(self, params, keys: jax.Array, *, episodes: int, num_simulations: int) -> jax.Array:
        """params [S, ...], keys [S] -> [S, episodes] returns of a greedy search (no Gumbel noise)
        on fresh envs."""
        planner = greedy_planner(num_simulations, self.config.planner)
        return jax.vmap(lambda p, key: rollout(self.env, self.model, p, self.objective, planner, key, episodes)[0])(
            params, keys)


def host_placeholders(env, num_envs: int) -> tuple[jax.Array, envs.TimeStep]:
    """(env_state, timestep) of a host env's TrainState: its envs live on the host, so env_state is
    a placeholder ([E] zeros) and timestep holds the latest observations, all actions legal."""
    false = jnp.zeros((num_envs,), bool)
    return jnp.zeros((num_envs,), jnp.int32), envs.TimeStep(
        observation=jnp.zeros((num_envs, *env.observation_shape), env.observation_dtype), reward=jnp.zeros((num_envs,)),
        terminated=false, truncated=false, action_mask=jnp.ones((num_envs, env.num_actions), bool))


def seed_slice(tree, index: int):
    """Seed `index` (0-based position in the run) of a tree with a leading [S] seed axis."""
    return jax.tree.map(lambda x: x[index], tree)


def to_host(metrics: dict) -> dict:
    """{name: [S] device array} -> {name: list of S Python numbers}."""
    return {name: host_value(value).tolist() for name, value in metrics.items()}
