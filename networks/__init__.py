"""The learned parts: Flax NNX networks and the categorical supports they predict over.

Ground layer: imports nothing from the other packages.
  config   NetworkConfig          layers  MLP, ResidualBlock, ConvHead, min_max_normalize
  base     MuZeroNetwork (the shared heads), resets_value_prefix, count_params
  mlp      MuZeroMLP (vectors)    resnet  MuZeroResNet (images)    build  make_network
  support  h, h_inv, two_hot, scalar_to_probs, logits_to_scalar, support
"""
from networks.base import MuZeroNetwork, count_params, resets_value_prefix
from networks.build import make_network
from networks.config import NetworkConfig
from networks.layers import MLP, min_max_normalize
from networks.mlp import MuZeroMLP
from networks.resnet import MuZeroResNet
from networks.support import (
           h,
           h_inv,
           logits_to_scalar,
           scalar_to_probs,
           support,
           two_hot,
)

__all__ = ["MLP", "MuZeroMLP", "MuZeroNetwork", "MuZeroResNet", "NetworkConfig", "count_params", "h", "h_inv",
           "logits_to_scalar", "make_network", "min_max_normalize", "resets_value_prefix", "scalar_to_probs",
           "support", "two_hot"]
