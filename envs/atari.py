"""Atari 2600 games through ale-py, as `atari:<Game>` (`atari:Pong`, `atari:Breakout`,
`atari:SpaceInvaders`), with the Atari 100k protocol EfficientZero used.

    env = envs.make("atari:Breakout")            # an AtariEnv (a host env: no JAX reset/step of one game)
    vec = env.vector(seeds=[0, 1])               # training envs stepped on the host: clipped rewards, life loss ends
    evals = env.vector(seeds=[0], training=False)   # evaluation envs: raw score, whole games
    xla = env.xla_vector(seeds=[0, 1])           # the same games, stepped inside jitted code

Preprocessing (ale-py's AtariVectorEnv, in C++ threads): 4 frames skipped per action with the
max of the last two frames pooled; grayscale (not RGB: a quarter of the bytes, as in DQN and
SPR; EfficientZero used RGB); 96 x 96; a stack of the last 4 frames, cleared at each new game
(zeros before the first frame); up to 30 no-op actions at the start of a game, and FIRE pressed
at the start where the game needs it; games capped at 108,000 frames (27,000 agent steps,
truncated); the game's minimal action set; sticky actions OFF (repeat_action_probability 0, as
in the Atari 100k protocol of SPR and EfficientZero).

Training only (`training=True`): rewards clipped to their sign, and a lost life ends the episode
for the learner (terminated: the value target beyond it is 0) while the game goes on, as
EfficientZero's EpisodicLifeEnv does. The life loss is read from ale-py's lives counter here
rather than from AtariVectorEnv's own `episodic_life`, which (ale-py 0.12, SAME_STEP autoreset)
restarts the whole game at every lost life, so an agent would never see a game with fewer lives.
Evaluation (`training=False`): raw rewards, an episode is a whole game.

Observations are [96, 96, 4] uint8 (channels last, oldest frame first); replay keeps them as
bytes and the network scales them to [0, 1] (networks.layers.as_float_pixels). The features
(what the feature decoder learns to read from the latent) are the newest frame average-pooled
to 8 x 8, in [0, 1]: a coarse picture of where things are.

Two ways to step while training (`--env-stepping`, agent/host/xla_env_loop.py picks one and logs it):
  - inside the jitted iteration, through ale-py's XLA interface (`AtariXlaVector`: AtariVectorEnv.xla(),
    whose reset/step are XLA custom calls that run inside jax.jit and lax.scan), the default where
    ale-py offers it for the backend;
  - on the host, between jitted calls (`AtariVector`, agent/host/host_env_loop.py), the fall-back.
Evaluation plays on the host either way. The XLA interface autoresets in NEXT_STEP mode: the step
after a game ends only starts the next game (its action is ignored); `XlaStep.restarted` marks it.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnasium.vector import AutoresetMode

from envs.host import HostStep

PREFIX = "atari:"
FRAME_SKIP = 4
SCREEN = 96
STACK = 4
MAX_FRAMES = 108_000
NOOP_MAX = 30
POOLED = 8  # features: the newest frame average-pooled to POOLED x POOLED


def rom_id(game: str) -> str:
    """'SpaceInvaders' -> 'space_invaders' (ale-py's ROM ids); 'pong' stays 'pong'."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()


def games() -> list[str]:
    """ale-py's ROM ids (every game its wheel carries)."""
    from ale_py.roms import get_all_rom_ids
    return sorted(get_all_rom_ids())


def _vector_env(env: AtariEnv, num_envs: int, autoreset_mode: AutoresetMode):
    """ale-py's AtariVectorEnv with the preprocessing of the module docstring."""
    from ale_py.vector_env import AtariVectorEnv
    return AtariVectorEnv(
        env.rom, num_envs, img_height=SCREEN, img_width=SCREEN, grayscale=True, stack_num=STACK,
        frameskip=FRAME_SKIP, maxpool=True, noop_max=NOOP_MAX, max_num_frames_per_episode=env.max_frames,
        repeat_action_probability=0.0, full_action_space=False, episodic_life=False, reward_clipping=False,
        use_fire_reset=True, autoreset_mode=autoreset_mode)


def xla_unavailable(platform: str | None = None) -> str | None:
    """Why ale-py's XLA interface cannot step games on `platform` (default: JAX's default backend),
    or None when it can."""
    import ale_py
    from ale_py.vector_env import AtariVectorEnv
    platform = platform or jax.default_backend()
    if not hasattr(AtariVectorEnv, "xla"):
        return f"ale-py {ale_py.__version__} has no XLA interface (AtariVectorEnv.xla)"
    if platform == "cpu":
        return None
    if platform == "gpu":  # ale-py registers its GPU step for CUDA only (not ROCm)
        version = str(getattr(jax.devices()[0].client, "platform_version", "")).lower()
        if "cuda" in version and hasattr(ale_py._ale_py, "VectorXLAStepGPU"):
            return None
        return f"ale-py {ale_py.__version__} has no XLA step for this GPU ({version or 'unknown'}; it has one for CUDA)"
    return f"ale-py {ale_py.__version__} has no XLA step for the {platform} backend"


class AtariVector:
    """N copies of one game stepped together (ale-py's AtariVectorEnv, SAME_STEP autoreset), with the
    training or evaluation reward and episode rules applied on top (see the module docstring)."""

    def __init__(self, env: AtariEnv, seeds: Sequence[int], training: bool):
        self.env, self.training = env, training
        self.seeds = [int(s) for s in seeds]
        self.vector = _vector_env(env, len(self.seeds), AutoresetMode.SAME_STEP)
        self.lives = np.zeros(len(self.seeds), np.int32)

    def __len__(self) -> int:
        return len(self.seeds)

    @staticmethod
    def _channels_last(frames: np.ndarray) -> np.ndarray:
        """[N, STACK, H, W] -> [N, H, W, STACK]"""
        return np.ascontiguousarray(np.moveaxis(np.asarray(frames), 1, -1))

    def reset(self) -> np.ndarray:
        """[N, 96, 96, 4] uint8 first observations; game i seeded with seeds[i]."""
        obs, info = self.vector.reset(seed=np.asarray(self.seeds))
        self.lives = np.asarray(info["lives"], np.int32)
        return self._channels_last(obs)

    def step(self, actions: np.ndarray) -> HostStep:
        """Steps every game with actions [N] (indices into the minimal action set)."""
        obs, reward, game_over, truncated, info = self.vector.step(np.asarray(actions, np.int32))
        obs = self._channels_last(obs)
        game_over, truncated = np.asarray(game_over, bool), np.asarray(truncated, bool) & ~np.asarray(game_over, bool)
        done = game_over | truncated
        final = obs.copy()
        if done.any():
            final[done] = self._channels_last(info["final_obs"])[done]
        lives = np.asarray(info["lives"], np.int32)  # where a game ended: the new game's lives
        reward = np.asarray(reward, np.float32)
        terminated = game_over
        if self.training:
            reward = np.sign(reward)
            terminated = game_over | ((lives < self.lives) & ~done)  # a life lost, the game going on
        self.lives = lives
        return HostStep(observation=obs, reward=reward, terminated=terminated, truncated=truncated,
                        final_observation=final)

    def close(self) -> None:
        self.vector.close()


class XlaStep(NamedTuple):
    """One step of AtariXlaVector's games ([N, ...] arrays), with the training or evaluation rules.

    observation: uint8 [N, 96, 96, 4], what the step led to: a game's last frames where it ended (kept
      until the next step restarts it), the new game's first where the step restarted one.
    reward: float32 [N]. terminated, truncated: bool [N], as AtariVector's (never both).
    restarted: bool [N], the step only started a new game after the one that ended at the step
      before (NEXT_STEP autoreset): no move was made, its action was ignored, reward 0, no end.
    """

    observation: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    restarted: jax.Array


@struct.dataclass
class XlaGames:
    """The state of AtariXlaVector's games that a jitted function carries: handle [8] uint8 (ale-py's
    pointer to its C++ vector env, threaded through every call so that they run in order),
    lives [N] int32 (after the latest step), pending [N] bool (the game ended; the next step restarts it)."""

    handle: jax.Array
    lives: jax.Array
    pending: jax.Array


class AtariXlaVector:
    """N copies of one game stepped inside jitted code through ale-py's XLA interface (NEXT_STEP
    autoreset), with the same preprocessing and training or evaluation rules as AtariVector.

        games, obs = vector.reset()               # host: XlaGames, [N, 96, 96, 4] uint8
        games, step = vector.step(games, actions) # jit-able: actions [N] int32 -> XlaStep

    Game i is seeded with seeds[i], as AtariVector's, so both play the same games.
    """

    def __init__(self, env: AtariEnv, seeds: Sequence[int], training: bool = True):
        reason = xla_unavailable()
        if reason:
            raise RuntimeError(f"{env.name}: {reason}; step the games on the host (--env-stepping host)")
        self.env, self.training = env, training
        self.seeds = [int(s) for s in seeds]
        self.vector = _vector_env(env, len(self.seeds), AutoresetMode.NEXT_STEP)
        self._handle, self._reset, self._step = self.vector.xla()

    def __len__(self) -> int:
        return len(self.seeds)

    def reset(self) -> tuple[XlaGames, jax.Array]:
        """Starts every game, game i seeded with seeds[i]: (XlaGames, [N, 96, 96, 4] uint8 first observations)."""
        seeds = np.asarray(self.seeds, np.int32)
        handle, (frames, info) = jax.jit(lambda h: self._reset(h, seed=seeds))(self._handle)
        games = XlaGames(handle=handle, lives=jnp.asarray(info["lives"], jnp.int32),
                         pending=jnp.zeros(len(self.seeds), bool))
        return games, jnp.moveaxis(frames, 1, -1)

    def step(self, games: XlaGames, actions: jax.Array) -> tuple[XlaGames, XlaStep]:
        """Steps every game with actions [N] (indices into the minimal action set); jit-able."""
        handle, (frames, reward, game_over, truncated, info) = self._step(games.handle, actions.astype(jnp.int32))
        restarted = games.pending
        game_over = game_over & ~restarted
        truncated = truncated & ~game_over & ~restarted
        done = game_over | truncated
        lives = jnp.asarray(info["lives"], jnp.int32)
        reward = jnp.where(restarted, 0.0, reward.astype(jnp.float32))
        terminated = game_over
        if self.training:
            reward = jnp.sign(reward)
            terminated = game_over | ((lives < games.lives) & ~done & ~restarted)  # a life lost, the game going on
        step = XlaStep(observation=jnp.moveaxis(frames, 1, -1), reward=reward, terminated=terminated,
                       truncated=truncated, restarted=restarted)
        return XlaGames(handle=handle, lives=lives, pending=done), step

    def close(self) -> None:
        self.vector.close()


class AtariEnv:
    """An Atari game by name (`Pong`, `Breakout`, `SpaceInvaders`, or ale-py's ROM id), described with
    the attributes the agent reads from an env; stepped on the host (envs.host)."""

    host = True
    observation_dtype = np.uint8
    mirror = None  # a symmetry (envs.base.Mirror); envs.make sets it for ids that have one

    def __init__(self, game: str, max_frames: int = MAX_FRAMES):
        from ale_py.vector_env import AtariVectorEnv
        self.rom = rom_id(game)
        if self.rom not in games():
            raise ValueError(f"{PREFIX}{game}: ale-py has no ROM {self.rom!r}; games: {', '.join(games())} "
                             f"(write them CamelCase or as these ids, e.g. atari:SpaceInvaders or atari:space_invaders)")
        self.name = f"{PREFIX}{game}"
        self.max_frames = int(max_frames)
        self.max_steps = -(-self.max_frames // FRAME_SKIP)
        probe = AtariVectorEnv(self.rom, 1, img_height=SCREEN, img_width=SCREEN, stack_num=STACK,
                               full_action_space=False)
        self.num_actions = int(probe.single_action_space.n)
        probe.close()
        self.observation_shape = (SCREEN, SCREEN, STACK)
        self.feature_names = tuple(f"pooled_{r}_{c}" for r in range(POOLED) for c in range(POOLED))

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    def features(self, observation):
        """[N, 96, 96, 4] uint8 -> [N, 64] float32: the newest frame averaged over 12 x 12 squares, in [0, 1]
        (numpy in, numpy out; a JAX array in, a JAX array out: the XLA loop reads them inside jit)."""
        newest = observation[..., -1].astype(np.float32) / 255.0
        n, side = newest.shape[0], SCREEN // POOLED
        return newest.reshape(n, POOLED, side, POOLED, side).mean(axis=(2, 4)).reshape(n, -1).astype(np.float32)

    def vector(self, seeds: Sequence[int], training: bool = True) -> AtariVector:
        """len(seeds) games stepped together on the host (training or evaluation rules)."""
        return AtariVector(self, seeds, training)

    def xla_vector(self, seeds: Sequence[int], training: bool = True) -> AtariXlaVector:
        """len(seeds) games stepped inside jitted code (ale-py's XLA interface)."""
        return AtariXlaVector(self, seeds, training)

    def __repr__(self) -> str:
        return (f"AtariEnv(name={self.name!r}, num_actions={self.num_actions}, "
                f"observation_shape={self.observation_shape}, max_steps={self.max_steps})")
