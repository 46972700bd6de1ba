"""Atari 2600 games through ale-py, as `atari:<Game>` (`atari:Pong`, `atari:Breakout`,
`atari:SpaceInvaders`), with the Atari 100k protocol EfficientZero used.

    env = envs.make("atari:Breakout")            # an AtariEnv (a host env, stepped in Python)
    vec = env.vector(seeds=[0, 1])               # training envs: clipped rewards, life loss ends
    evals = env.vector(seeds=[0], training=False)   # evaluation envs: raw score, whole games

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

Stepping stays on the host (agent/host/host_env_loop.py). ale-py also offers an XLA interface
(AtariVectorEnv.xla(): reset/step callable inside jax.jit) that would keep stepping inside the
jitted iteration; it needs NEXT_STEP autoreset and an env handle threaded through the training
state, and is not used yet: training logs `env stepping: host loop`.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
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


class AtariVector:
    """N copies of one game stepped together (ale-py's AtariVectorEnv, SAME_STEP autoreset), with the
    training or evaluation reward and episode rules applied on top (see the module docstring)."""

    def __init__(self, env: AtariEnv, seeds: Sequence[int], training: bool):
        from ale_py.vector_env import AtariVectorEnv
        self.env, self.training = env, training
        self.seeds = [int(s) for s in seeds]
        self.vector = AtariVectorEnv(
            env.rom, len(self.seeds), img_height=SCREEN, img_width=SCREEN, grayscale=True, stack_num=STACK,
            frameskip=FRAME_SKIP, maxpool=True, noop_max=NOOP_MAX, max_num_frames_per_episode=env.max_frames,
            repeat_action_probability=0.0, full_action_space=False, episodic_life=False, reward_clipping=False,
            use_fire_reset=True, autoreset_mode=AutoresetMode.SAME_STEP)
        self.lives = np.zeros(len(self.seeds), np.int32)

    def __len__(self) -> int:
        return len(self.seeds)

    @staticmethod
    def _channels_last(frames: np.ndarray) -> np.ndarray:
        """[N, STACK, H, W] -> [N, H, W, STACK]"""
        return np.ascontiguousarray(np.moveaxis(np.asarray(frames), 1, -1))

    def reset(self) -> np.ndarray:
        """[N, 96, 96, 4] uint8 first observations; env i's game seeded with seeds[0] + i."""
        obs, info = self.vector.reset(seed=self.seeds[0])
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


class AtariEnv:
    """An Atari game by name (`Pong`, `Breakout`, `SpaceInvaders`, or ale-py's ROM id), described with
    the attributes the agent reads from an env; stepped on the host (envs.host)."""

    host = True
    observation_dtype = np.uint8

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

    def features(self, observation: np.ndarray) -> np.ndarray:
        """[N, 96, 96, 4] uint8 -> [N, 64] float32: the newest frame averaged over 12 x 12 squares, in [0, 1]."""
        newest = observation[..., -1].astype(np.float32) / 255.0
        n, side = newest.shape[0], SCREEN // POOLED
        return newest.reshape(n, POOLED, side, POOLED, side).mean(axis=(2, 4)).reshape(n, -1).astype(np.float32)

    def vector(self, seeds: Sequence[int], training: bool = True) -> AtariVector:
        """len(seeds) games stepped together (training or evaluation rules)."""
        return AtariVector(self, seeds, training)

    def __repr__(self) -> str:
        return (f"AtariEnv(name={self.name!r}, num_actions={self.num_actions}, "
                f"observation_shape={self.observation_shape}, max_steps={self.max_steps})")
