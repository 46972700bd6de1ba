"""`envs.make(name, **kwargs)`: build a registered env by name."""
from __future__ import annotations

from collections.abc import Callable

from envs.base import Env
from envs.cartpole import CartPole
from envs.gridworlds import CheeseInCorner, CoinAtEnd
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
    gymnasium's version suffix dropped ('CartPole-v1' -> 'cartpole')."""
    return name.lower().replace("-v1", "")


def names() -> list[str]:
    """The registered env names, sorted."""
    return sorted(_REGISTRY)


def make(name: str, **kwargs) -> Env:
    """Returns a new env; an unknown name raises with the list of valid ones."""
    key = canonical_name(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown env {name!r}; valid names: {', '.join(names())}")
    try:
        return _REGISTRY[key](**kwargs)
    except TypeError as err:
        raise TypeError(f"envs.make({name!r}): {err}") from None
