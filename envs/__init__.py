"""JAX-native environments: pure `reset`/`step`, jit- and vmap-able.

Ground layer: imports nothing from the other packages.

Public API: `Env`, `State`, `TimeStep`, `make`, `names`, `exists`, `describe_names`, `register`,
`canonical_name`, `GymnaxEnv` (any discrete gymnax env, as `gymnax:<id>`),
`HostEnv` (any discrete gymnasium env, as `gymnasium:<id>`, stepped on the host), `AtariEnv`
(`atari:<Game>`, ale-py, on the host), `is_host_env`,
`require_jax_env`, `check_env`, `EnvCheckError`, `hand_values`, `register_hand_value`, and the envs `CartPole`, `Chain`, `Bandit`,
`CoinAtEnd`, `CheeseInCorner` (the goal-misgeneralization gridworlds), `BreakoutMinAtar`
(pixels, through gymnax).
"""
from envs.atari import AtariEnv
from envs.base import Env, Mirror, State, TimeStep
from envs.cartpole import CartPole
from envs.check import EnvCheckError, check_env
from envs.gridworlds import CheeseInCorner, CoinAtEnd
from envs.gymnax_env import GymnaxEnv
from envs.hand_values import hand_values, register_hand_value
from envs.host import HostEnv, is_host_env, require_jax_env
from envs.minatar import BreakoutMinAtar
from envs.registry import canonical_name, describe_names, exists, make, names, register
from envs.toy import Bandit, Chain

__all__ = [
           "AtariEnv",
           "Bandit",
           "BreakoutMinAtar",
           "CartPole",
           "Chain",
           "CheeseInCorner",
           "CoinAtEnd",
           "Env",
           "EnvCheckError",
           "GymnaxEnv",
           "HostEnv",
           "Mirror",
           "State",
           "TimeStep",
           "canonical_name",
           "check_env",
           "describe_names",
           "exists",
           "hand_values",
           "is_host_env",
           "make",
           "names",
           "register",
           "register_hand_value",
           "require_jax_env",
]
