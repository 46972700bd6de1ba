"""Objectives by name, for the command line: `--value learned | <hand value> | zero`."""
from __future__ import annotations

import envs
from search.objective import Blend, Constant, FeatureValue, LearnedValue, Objective


def value_names(env_name: str) -> list[str]:
    """What `--value` accepts for an env."""
    return ["learned", "zero", *envs.hand_values(env_name)]


def make_objective(env_name: str, value: str = "learned", discount: float = 0.997,
                   blend: float = 1.0) -> Objective:
    """Builds the objective a run plans with.

    value: 'learned' (the value head), 'zero' (rewards alone), or the name of a
      hand value shipped for the env (see envs.hand_values).
    blend: weight of that value against the learned head, (1 - blend) x learned
      + blend x value; 1 (default) uses the named value alone.
    """
    hand = envs.hand_values(env_name)
    if value == "learned":
        chosen = LearnedValue()
    elif value == "zero":
        chosen = Constant(0.0)
    elif value in hand:
        chosen = FeatureValue(hand[value], name=value)
    else:
        raise ValueError(f"unknown value {value!r} for env {env_name!r}; choose from "
                         f"{', '.join(value_names(env_name))}")
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"value blend must be in [0, 1], got {blend}")
    if blend < 1.0 and value != "learned":
        chosen = Blend(LearnedValue(), chosen, blend)
    return Objective(value=chosen, discount=discount)
