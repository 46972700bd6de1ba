"""Flax NNX networks and the categorical supports they predict over.

Public API: `NetworkConfig`, `MuZeroMLP`, `count_params`, `min_max_normalize`,
and from `networks.support`: `h`, `h_inv`, `two_hot`, `scalar_to_probs`,
`logits_to_scalar`, `support`.
"""
from networks.muzero import MLP, MuZeroMLP, NetworkConfig, count_params, min_max_normalize
from networks.support import h, h_inv, logits_to_scalar, scalar_to_probs, support, two_hot

__all__ = ["NetworkConfig", "MuZeroMLP", "MLP", "count_params", "min_max_normalize",
           "h", "h_inv", "two_hot", "scalar_to_probs", "logits_to_scalar", "support"]
