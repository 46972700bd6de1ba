"""`NetworkConfig`: the sizes of every network, vector or pixel."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the MuZero networks (MLPs for vectors, the ResNet for images)."""

    hidden: int = 64
    """Width of every hidden layer."""
    latent: int = 64
    """Size H of the latent state the search plans in."""
    layers: int = 2
    """Hidden layers in each of the representation, dynamics and prediction MLPs."""
    layer_norm: bool = True
    """Vector observations: LayerNorm after every hidden Linear of the representation, dynamics and
    prediction MLPs (False: none; the consistency loss's projection heads keep theirs)."""
    residual_dynamics: bool = False
    """Vector observations: the dynamics MLP predicts a change of the latent, next = normalize(latent +
    trunk(latent, action)), its output layer starting at zero (so an untrained model starts at "nothing
    changes"); False: next = normalize(trunk(latent, action))."""
    action_every_layer: bool = False
    """Vector observations: the dynamics MLP reads the one-hot action at every layer (the inputs of its
    hidden layers after the first and of its output layer too); False: only at its input, beside the
    latent."""
    observation_latent: bool = False
    """Vector observations: the latent the search plans in is the observation itself (no representation
    network, no min-max scaling), and the dynamics predicts the next observation as obs + MLP(obs, action),
    its output layer starting at zero; the learner trains each unrolled latent towards the real observation
    (LossConfig.observation_weight). A model whose states mean what the env's do, as in PETS; `latent` is
    unused."""
    value_heads: int = 1
    """Vector observations: independent value heads (an ensemble, each its own MLP from its own random
    weights, each trained on the same targets). The value the search reads is the mean of theirs: the
    mixture of their distributions over the support, whose h-space mean is the heads' mean. 1: one head."""
    value_support: int = 20
    """Value is a categorical over the integers -S..S in h-space (with 20, covers returns up to ~420)."""
    value_scale: float = 1.0
    """Value targets are multiplied by this before h(x) and the two-hot, and the value head's
    predictions divided by it: a finer support for small returns. With 1, returns in [0, 1] (the
    gridworlds') all fall inside the first bin, where the values of squares 1 and 2 steps from the
    goal (a factor of 0.95 apart) are 0.018 of a bin apart and those 15 and 16 steps away 0.010;
    with 100, 0.26 and 0.18. The support then covers returns up to about 420 / value_scale only (with
    support 20; larger targets are clipped to its edge): keep value_scale x the largest return under
    420, or widen the support."""
    reward_support: int = 5
    """Reward is a categorical over -R..R in h-space (covers rewards up to ~35)."""
    projection: int = 64
    """Output size of the SimSiam projection used by the consistency loss."""
    value_prefix_horizon: int = 0
    """EfficientZero's value prefix: an LSTM over the unrolled latents predicts the sum of rewards
    since its last reset, reset every this many steps (EfficientZero uses 5); 0 keeps MuZero's
    per-step reward head."""
    lstm_hidden: int = 64
    """Width of the value-prefix LSTM."""
    channels: int = 32
    """Pixel observations (networks.resnet): channels D of the spatial latent."""
    blocks: int = 1
    """Pixel observations: residual blocks in the representation and in the dynamics."""
    downsample: int = 1
    """Pixel observations: halvings of the image in the representation (the latent is [H / 2^n, W / 2^n, D]):
    1, a stride-2 convolution (MinAtar's 10x10 -> 5x5); each further one is a residual block and a 3x3
    stride-2 average pool, as in EfficientZero's Atari stem (4: 96x96 -> 6x6)."""


DEFAULT_NETWORK = NetworkConfig()  # frozen: one shared default argument is safe
