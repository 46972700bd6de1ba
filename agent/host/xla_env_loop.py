"""Training on Atari with the games stepped inside the jitted iteration (ale-py's XLA interface), and
the choice between that and the host loop (`--env-stepping`).

    loop = env_loop(agent)                    # XlaEnvLoop, HostEnvLoop or None (a JAX env), as configured
    state = loop.resume(state)
    state, metrics = loop.iteration(state)    # one jitted call: T searches and game steps, then learning
    returns = loop.evaluate(params, keys, episodes=20, num_simulations=16)   # on the host, as HostEnvLoop
    loop.close()

An iteration is the host loop's (agent/host/host_env_loop.py), moved inside one jitted function:
T = act_steps_per_iteration times one batched search over every seed's envs, then one step of the
S x E games through ale-py's XLA custom call; the T steps go into replay and the learner runs the
updates the replay-ratio schedule owes (`Agent._host_learn`, the host loop's own). No Python between
the steps. (On the CPU the games' frames are written straight into XLA's buffers; on a CUDA GPU
ale-py's custom call copies the actions to the host and the frames back at every step, which no
device measurement here has timed yet.)

NEXT_STEP autoreset: the XLA interface starts a new game at the step *after* one ended, ignoring that
step's action (envs.atari.XlaStep.restarted). That step makes no transition, but replay writes one row
per env per step; its row repeats the row of the step that ended the game. Windows never run across
an episode's end (agent.algorithm.targets masks what follows it), so the repeat adds one more sample
of the game's last transition and nothing else: one row per game, among thousands. It is counted as
an env step (every seed's env-step count, which the replay-ratio schedule reads, stays one number), so
an XLA run plays one step fewer per finished game than its env-step count says.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from jax.sharding import NamedSharding, PartitionSpec

from agent.algorithm.iteration import Agent, TrainState
from agent.algorithm.replay import Transition
from agent.config import ConfigError, TrainConfig
from agent.host.host_env_loop import HostEnvLoop, training_env_seeds
from envs.atari import PREFIX as ATARI_PREFIX
from envs.atari import XlaGames, XlaStep, xla_unavailable


@struct.dataclass
class XlaEnvState:
    """What the jitted iteration carries about the games from one iteration to the next.

    games: XlaGames of the S x E games. observation: [S, E, 96, 96, 4] uint8, what each shows now.
    episode_return: [S, E] running returns. last_row: Transition of [S, E, ...], each env's latest
    replay row (a restart step repeats it).
    """

    games: XlaGames
    observation: jax.Array
    episode_return: jax.Array
    last_row: Transition


def xla_refusal(device_count: int) -> str | None:
    """Why Atari games cannot step inside the jit of a run on `device_count` devices here (None: they can)."""
    reason = xla_unavailable()
    if reason is None and device_count > 1:
        reason = f"XLA stepping runs on one device; this run uses {device_count}"
    return reason


def check_env_stepping(config: TrainConfig, device_count: int) -> None:
    """Raises ConfigError where config asks for --env-stepping xla and it cannot run here (train() calls
    this before it makes the run folder)."""
    reason = xla_refusal(device_count) if config.env_stepping == "xla" else None
    if reason:
        raise ConfigError(f"--env-stepping xla: {reason}; use --env-stepping host (or auto)")


def stepping(agent: Agent) -> str:
    """'jit' (a JAX env), 'xla' or 'host': how `agent`'s env steps while training, from
    config.env_stepping ('auto': 'xla' where it can run, else 'host')."""
    if not agent.host:
        return "jit"
    if not agent.env.name.startswith(ATARI_PREFIX) or agent.config.env_stepping == "host":
        return "host"
    check_env_stepping(agent.config, agent.mesh.size)
    return "host" if xla_refusal(agent.mesh.size) else "xla"


def env_loop(agent: Agent) -> HostEnvLoop | None:
    """The loop that steps `agent`'s env while training (None: a JAX env, stepped by agent.iteration)."""
    how = stepping(agent)
    return None if how == "jit" else XlaEnvLoop(agent) if how == "xla" else HostEnvLoop(agent)


class XlaEnvLoop(HostEnvLoop):
    """HostEnvLoop's calls for Atari games stepped inside the jitted iteration; evaluation stays on the
    host (HostEnvLoop.evaluate: whole games, raw scores)."""

    def __init__(self, agent: Agent):
        # Not HostEnvLoop.__init__, which opens host envs; this sets what its inherited methods read (agent,
        # seeds, num_envs, _eval_search: evaluate; agent: resume) and the carry of the games it steps.
        self.agent = agent
        config = agent.config
        self.seeds, self.num_envs = len(agent.seeds), config.num_envs
        self.vector = agent.env.xla_vector(training_env_seeds(agent))
        self._eval_search: dict = {}
        games, observation = self.vector.reset()
        observation = self._per_seed(observation)
        carry = XlaEnvState(games=games, observation=observation,
                            episode_return=jnp.zeros((self.seeds, self.num_envs), jnp.float32),
                            last_row=self._placeholder_row(observation))
        # The games' state lives whole on the run's one device, in and out (so the second call reuses the first's
        # compilation).
        replicated = NamedSharding(agent.mesh, PartitionSpec())
        self.carry = jax.device_put(carry, replicated)
        self._iteration = jax.jit(self._jitted_iteration, donate_argnums=0,
                                  out_shardings=(agent.shardings, replicated, replicated))

    @property
    def description(self) -> str:
        return f"ale-py XLA ({type(self.vector).__name__}, inside the jitted iteration)"

    def iteration(self, state: TrainState):
        """state [S, ...] -> (state, {metric: [S]}), as agent.iteration for a JAX env."""
        state, self.carry, metrics = self._iteration(state, self.carry)
        return state, metrics

    def _row(self, observation: jax.Array, action: jax.Array, policy: jax.Array, root_value: jax.Array,
             step: XlaStep) -> Transition:
        """The replay row of a step: observation [S, E, 96, 96, 4] (where it was taken), action [S, E],
        policy [S, E, A], root_value [S, E], step (XlaStep of [S, E, ...]) -> Transition of [S, E, ...]."""
        agent = self.agent
        shape = observation.shape[:2]
        features = agent.env.features(observation.reshape(-1, *observation.shape[2:]))
        return Transition(
            observation=observation, action=action, reward=step.reward, terminated=step.terminated,
            truncated=step.truncated, policy=policy, features=features.reshape(*shape, -1),
            action_mask=jnp.ones((*shape, agent.env.num_actions), bool), final_observation=step.observation,
            root_value=root_value if agent.spec.bootstrap == "search" else None)

    def _placeholder_row(self, observation: jax.Array) -> Transition:
        """A row shaped and typed as `_row`'s, to start the carry with: no restart can repeat it (a restart
        follows a step that ended a game)."""
        shape = observation.shape[:2]
        false = jnp.zeros(shape, bool)
        nothing = XlaStep(observation=observation, reward=jnp.zeros(shape), terminated=false, truncated=false,
                          restarted=false)
        return self._row(observation, jnp.zeros(shape, jnp.int32), jnp.zeros((*shape, self.agent.env.num_actions)),
                         jnp.zeros(shape), nothing)

    def _act_step(self, params, env: XlaEnvState, keys: jax.Array):
        """One search over every seed's envs (keys [S]) and one step of the S x E games. Returns (env,
        (the replay row [S, E], finished episodes' return sums [S], episodes finished [S], NaN/inf [S]))."""
        agent = self.agent
        action, policy, root_value, bad = agent._host_search(params, keys, env.observation)
        games, step = self.vector.step(env.games, action.reshape(-1))
        step = jax.tree.map(self._per_seed, step)
        row = self._row(env.observation, action, policy, root_value, step)
        row = jax.tree.map(lambda made, last: jnp.where(
            step.restarted.reshape(step.restarted.shape + (1,) * (made.ndim - 2)), last, made), row, env.last_row)
        done = step.terminated | step.truncated
        episode_return = env.episode_return + step.reward
        sums, finished = jnp.sum(jnp.where(done, episode_return, 0.0), axis=1), jnp.sum(done, axis=1)
        env = XlaEnvState(games=games, observation=step.observation, last_row=row,
                          episode_return=jnp.where(done, 0.0, episode_return))
        return env, (row, sums, finished.astype(jnp.int32), bad)

    def _jitted_iteration(self, state: TrainState, env: XlaEnvState):
        """(state [S, ...], the games' carry) -> (state, carry, {metric: [S]}): T acting steps (a scan over
        the search keys, [S, T] swapped to [T, S]), then `Agent._host_learn`, the host loop's learner half."""
        agent = self.agent
        state, search_keys, learn_keys = agent._host_keys(state)  # search keys [S, T]
        env, (rows, sums, finished, bad) = jax.lax.scan(
            lambda env, keys: self._act_step(state.learner.params, env, keys), env, jnp.swapaxes(search_keys, 0, 1))
        state, metrics = agent._host_learn(state, rows, learn_keys, env.observation, env.episode_return,
                                           jnp.sum(sums, axis=0), jnp.sum(finished, axis=0), jnp.sum(bad, axis=0))
        return state, env, metrics

    def close(self) -> None:
        self.vector.close()
