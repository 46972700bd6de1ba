"""`envs.make(name, **kwargs)`: build a registered env, any discrete gymnax env as
`gymnax:<id>`, any discrete gymnasium env as `gymnasium:<id>` (stepped on the host), or an Atari
game as `atari:<Game>` (ale-py, stepped on the host), by name."""
from __future__ import annotations

from collections.abc import Callable

import gymnax

from envs.atari import PREFIX as ATARI
from envs.atari import AtariEnv, rom_id
from envs.atari import games as atari_games
from envs.base import Env
from envs.cartpole import CartPole
from envs.gridworlds import CheeseInCorner, CoinAtEnd
from envs.gymnax_env import DISCRETE_IDS, GymnaxEnv
from envs.gymnax_env import PREFIX as GYMNAX
from envs.host import PREFIX as GYMNASIUM
from envs.host import HostEnv
from envs.host import registered as gymnasium_registered
from envs.minatar import BreakoutMinAtar
from envs.toy import Bandit, Chain

_REGISTRY: dict[str, Callable[..., Env]] = {
    "cartpole": CartPole,
    "chain": Chain,
    "bandit": Bandit,
    "coin_at_end": CoinAtEnd,
    "cheese_in_corner": CheeseInCorner,
    "breakout-minatar": BreakoutMinAtar,
}


def register(name: str, constructor: Callable[..., Env]) -> None:
    """Adds a user env under `name`, so `make(name)` and the CLI can build it."""
    if name in _REGISTRY:
        raise ValueError(f"env name {name!r} is already registered")
    _REGISTRY[name] = constructor


def canonical_name(name: str) -> str:
    """The registry key a user's spelling of an env name maps to: case-insensitive, and
    gymnasium's version suffix dropped ('CartPole-v1' -> 'cartpole'). Names of a family
    ('gymnax:Acrobot-v1') are kept as written: the ids are the family's own."""
    return name if ":" in name else name.lower().replace("-v1", "")


def exists(name: str) -> bool:
    """Whether `make(name)` can build it: a registered name, gymnax:<any gymnax id>, or
    gymnasium:<any id in gymnasium's registry>."""
    key = canonical_name(name)
    return (key in _REGISTRY or (key.startswith(GYMNAX) and key[len(GYMNAX):] in gymnax.registered_envs)
            or (key.startswith(GYMNASIUM) and gymnasium_registered(key[len(GYMNASIUM):]))
            or (key.startswith(ATARI) and rom_id(key[len(ATARI):]) in atari_games()))


def describe_names() -> str:
    """The names `make` accepts, for help and error messages."""
    return (f"{', '.join(names())}; or gymnax:<id> with a discrete gymnax id "
            f"({', '.join(DISCRETE_IDS)}); or gymnasium:<id> with any discrete gymnasium id "
            f"(e.g. gymnasium:CartPole-v1, gymnasium:Acrobot-v1; stepped on the host); or atari:<Game> "
            f"with an Atari game of ale-py (e.g. atari:Pong, atari:Breakout; {len(atari_games())} games)")


def names() -> list[str]:
    """The registered env names, sorted."""
    return sorted(_REGISTRY)


# Wrapped envs whose observations are a registered env's, entry for entry: they share its symmetry
# (gymnasium's and gymnax's CartPole-v1 observe x, x_dot, theta, theta_dot, as envs.CartPole does).
_MIRRORS = {f"{GYMNASIUM}CartPole-v1": CartPole.mirror, f"{GYMNAX}CartPole-v1": CartPole.mirror}


def make(name: str, **kwargs) -> Env | HostEnv | AtariEnv:
    """Returns a new env (a HostEnv for gymnasium:<id>); an unknown name raises with the list of
    valid ones."""
    key = canonical_name(name)
    if not exists(key):
        raise ValueError(f"unknown env {name!r}; valid names: {describe_names()}")
    try:
        if key.startswith(GYMNAX):
            env = GymnaxEnv(key[len(GYMNAX):], **kwargs)
        elif key.startswith(GYMNASIUM):
            env = HostEnv(key[len(GYMNASIUM):], **kwargs)
        elif key.startswith(ATARI):
            env = AtariEnv(key[len(ATARI):], **kwargs)
        else:
            return _REGISTRY[key](**kwargs)
    except TypeError as err:
        raise TypeError(f"envs.make({name!r}): {err}") from None
    env.mirror = _MIRRORS.get(key)
    return env
