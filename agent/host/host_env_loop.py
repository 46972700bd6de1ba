"""Training and evaluation on host envs (`gymnasium:<id>`, and `atari:<Game>` with --env-stepping host):
the envs step in Python, the search and the learner stay jitted.

    loop = HostEnvLoop(agent)                 # S x E gymnasium envs, reset
    state = loop.resume(state)                # a restored run: its episodes in progress were cut
    state, metrics = loop.iteration(state)    # what agent.iteration does for a JAX env
    returns = loop.evaluate(params, keys, episodes=20, num_simulations=16)   # [S, episodes]
    loop.close()

One iteration: T = act_steps_per_iteration times, one batched search over every seed's envs
(`agent.host_search`), then one host step of the S x E envs (a gymnasium SyncVectorEnv, or ale-py's
AtariVectorEnv, with SAME_STEP autoreset: envs.host, envs.atari); the T steps then go to the device in one transfer and
`agent.host_learn` writes them into replay and runs the learner updates the replay-ratio
schedule owes: the same replay, learner, checkpoints and records as a JAX env's run.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from agent.algorithm.iteration import Agent
from agent.algorithm.replay import Transition
from agent.algorithm.rollout import greedy_planner, host_vector_rollout
from search.planner import plan

# Env seeds of training envs are seed * num_envs + e; evaluation envs start here, apart from them.
EVAL_SEED_OFFSET = 1_000_000


def training_env_seeds(agent: Agent) -> list[int]:
    """The env seeds of a run's S x E training envs, seed-major: seed * num_envs + e."""
    return [seed * agent.config.num_envs + e for seed in agent.seeds for e in range(agent.config.num_envs)]


class HostEnvLoop:
    """The host side of a host env's run (agent.host is True)."""

    def __init__(self, agent: Agent):
        if not agent.host:
            raise ValueError(f"HostEnvLoop drives host envs (gymnasium:<id>, atari:<Game>); {agent.env.name} runs inside "
                             f"agent.iteration")
        if jax.process_count() > 1:
            raise ValueError(f"{agent.env.name} steps on the host: a multi-process run is not supported for host envs "
                             f"yet; run it in one process (several local devices are fine)")
        self.agent = agent
        config = agent.config
        self.seeds, self.num_envs = len(agent.seeds), config.num_envs
        self.vector = agent.env.vector(training_env_seeds(agent))
        self.observation = self._per_seed(self.vector.reset())  # [S, E, *obs]
        self.episode_return = np.zeros((self.seeds, self.num_envs), np.float32)
        self._eval_search: dict = {}

    @property
    def description(self) -> str:
        """How the envs step, for the log and the first metrics row."""
        return f"host loop ({type(self.vector).__name__})"

    def _per_seed(self, flat: np.ndarray) -> np.ndarray:
        """[S * E, ...] -> [S, E, ...]"""
        return flat.reshape(self.seeds, self.num_envs, *flat.shape[1:])

    @staticmethod
    def _flat(per_seed: np.ndarray) -> np.ndarray:
        """[S, E, ...] -> [S * E, ...]"""
        return per_seed.reshape(-1, *per_seed.shape[2:])

    def resume(self, state):
        """A restored state's episodes in progress end where it was saved (the envs restart)."""
        return self.agent.cut_episodes(state) if int(state.env_steps[0]) > 0 else state

    def iteration(self, state):
        """state [S, ...] -> (state, {metric: [S]}), as agent.iteration for a JAX env."""
        agent = self.agent
        state, search_keys, learn_keys = agent.host_keys(state)
        steps = []
        return_sums = np.zeros(self.seeds, np.float32)
        finished = np.zeros(self.seeds, np.int32)
        nonfinite = jnp.zeros(self.seeds, jnp.int32)
        for t in range(agent.config.act_steps_per_iteration):
            observation = self.observation
            action, policy, root_value, bad = agent.host_search(state.learner.params, search_keys[:, t],
                                                                jnp.asarray(observation))
            action = np.asarray(action)
            step = self.vector.step(action.reshape(-1))
            reward, terminated = self._per_seed(step.reward), self._per_seed(step.terminated)
            truncated = self._per_seed(step.truncated)
            steps.append(Transition(
                observation=observation, action=action, reward=reward, terminated=terminated, truncated=truncated,
                policy=policy, features=self._per_seed(agent.env.features(self._flat(observation))),
                action_mask=np.ones((self.seeds, self.num_envs, agent.env.num_actions), bool),
                final_observation=self._per_seed(step.final_observation),
                root_value=root_value if agent.spec.bootstrap == "search" else None))
            self.episode_return += reward
            done = terminated | truncated
            return_sums += np.where(done, self.episode_return, 0.0).sum(axis=1)
            finished += done.sum(axis=1).astype(np.int32)
            self.episode_return[done] = 0.0
            self.observation = self._per_seed(step.observation)
            nonfinite = nonfinite + bad
        stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *steps)  # [T, S, E, ...]: one transfer
        return agent.host_learn(state, stacked, learn_keys, jnp.asarray(self.observation),
                                jnp.asarray(self.episode_return), jnp.asarray(return_sums), jnp.asarray(finished),
                                nonfinite)

    def evaluate(self, params, keys: jax.Array, *, episodes: int, num_simulations: int) -> np.ndarray:
        """params [S, ...], keys [S] -> [S, episodes] returns of a greedy search, the first episode of each
        of S x episodes fresh evaluation envs (Atari: raw score, whole games), seeded from keys[0]."""
        search = self._greedy_search(num_simulations)
        first = EVAL_SEED_OFFSET + int(jax.random.randint(keys[0], (), 0, 2**20)) * self.seeds * episodes
        vector = self.agent.env.vector(range(first, first + self.seeds * episodes), training=False)

        def act(key, obs):
            per_seed = obs.reshape(self.seeds, episodes, *obs.shape[1:])
            return search(params, jax.random.split(key, self.seeds), per_seed).reshape(-1)

        try:
            return host_vector_rollout(vector, act, keys[0]).reshape(self.seeds, episodes)
        finally:
            vector.close()

    def _greedy_search(self, num_simulations: int):
        """The jitted greedy search over every seed: params [S], keys [S], obs [S, N, *obs] -> [S, N]."""
        if num_simulations not in self._eval_search:
            agent = self.agent
            planner = greedy_planner(num_simulations, agent.config.planner)
            one = lambda p, key, obs: plan(p, key, obs, model=agent.model, objective=agent.objective,
                                           config=planner).action
            self._eval_search[num_simulations] = jax.jit(jax.vmap(one))
        return self._eval_search[num_simulations]

    def close(self) -> None:
        self.vector.close()
