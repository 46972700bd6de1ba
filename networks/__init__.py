"""Flax NNX networks and the categorical supports they predict over.

Public API: `NetworkConfig`, `make_network` (MLP for vectors, ResNet for images),
`MuZeroMLP`, `MuZeroResNet`, `count_params`, `min_max_normalize`, and from
`networks.support`: `h`, `h_inv`, `two_hot`, `scalar_to_probs`, `logits_to_scalar`, `support`.
"""
from networks.muzero import (
           MLP,
           MuZeroMLP,
           NetworkConfig,
           count_params,
           make_network,
           min_max_normalize,
)
from networks.resnet import MuZeroResNet
from networks.support import (
           h,
           h_inv,
           logits_to_scalar,
           scalar_to_probs,
           support,
           two_hot,
)

__all__ = [
           "MLP",
           "MuZeroMLP",
           "MuZeroResNet",
           "NetworkConfig",
           "count_params",
           "h",
           "h_inv",
           "logits_to_scalar",
           "make_network",
           "min_max_normalize",
           "scalar_to_probs",
           "support",
           "two_hot",
]
