"""`make_network`: the network family an observation shape calls for."""
from __future__ import annotations

from flax import nnx

from networks.base import MuZeroNetwork
from networks.config import NetworkConfig
from networks.mlp import MuZeroMLP
from networks.resnet import MuZeroResNet


def make_network(observation_shape: tuple[int, ...], num_actions: int, num_features: int,
                 config: NetworkConfig, *, rngs: nnx.Rngs) -> MuZeroNetwork:
    """An MLP network for vectors [O], the ResNet for images [H, W, C]."""
    if len(observation_shape) == 1:
        return MuZeroMLP(observation_shape[0], num_actions, num_features, config, rngs=rngs)
    if len(observation_shape) == 3:
        return MuZeroResNet(tuple(observation_shape), num_actions, num_features, config, rngs=rngs)
    raise ValueError(f"observations of shape {tuple(observation_shape)} are not supported: the networks take "
                     f"vectors [O] (MLP) or images [H, W, C] (ResNet); flatten or add a channel axis")
