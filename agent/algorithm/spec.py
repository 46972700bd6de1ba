"""`LearnerSpec`: what one learner update needs to know, read once from the run's config."""
from __future__ import annotations

from dataclasses import dataclass

import envs
from agent.config import TrainConfig
from envs.base import Mirror


@dataclass(frozen=True)
class LearnerSpec:
    """The learner's settings, built once by `LearnerSpec.from_config` (static under jit).

    K = unroll_steps dynamics steps are unrolled per sampled window, n = td_steps steps of
    reward are summed before bootstrapping; a window holds K + n + 1 rows.
    """

    batch_size: int
    unroll_steps: int
    td_steps: int
    discount: float
    value_support: int
    reward_support: int
    value_weight: float
    policy_weight: float
    reward_weight: float
    feature_weight: float
    observation_weight: float
    consistency_weight: float
    reanalyze_count: int
    """Windows of each batch whose policy targets are re-searched (0: no reanalyze)."""
    off_policy_correction: bool
    augmentation: bool
    observation_noise: float
    """LossConfig.observation_noise: noise on vector observations in the loss, in units of each entry's
    spread over the batch."""
    mirror: Mirror | None
    """The env's symmetry when LossConfig.mirror is on (half of each batch is mirrored), else None."""
    prioritized: bool
    sample_to_head: bool
    """Windows may start at the newest rows (replay.sample_windows, to_head)."""
    priority_alpha: float
    priority_beta_start: float
    priority_eps: float
    target_update_interval: int
    target_ema: float
    bootstrap: str
    """'target', 'search' or 'lookahead' (see LossConfig.bootstrap)."""
    mixed_value_age: int | None
    """EfficientZero V2's mixed value target (LossConfig.value_target 'mixed'): windows older than
    this many env steps learn fresh search values; None: n-step returns only."""
    value_lower_bound: bool
    """Value targets are raised to the replay's return to the episode end (LossConfig.value_lower_bound)."""
    total_env_steps: int
    """The run's length, which the PER beta and off-policy schedules are measured against."""

    @property
    def reanalyzes(self) -> bool:
        """Whether an update searches replay observations again (fresh policies or values)."""
        return self.reanalyze_count > 0 or self.mixed_value_age is not None

    @property
    def window(self) -> int:
        """Rows per sampled window: K + n + 1."""
        return self.unroll_steps + self.td_steps + 1

    @classmethod
    def from_config(cls, config: TrainConfig) -> LearnerSpec:
        loss, replay, network = config.loss, config.replay, config.network
        return cls(
            batch_size=replay.batch_size, unroll_steps=loss.unroll_steps, td_steps=loss.td_steps,
            discount=config.discount, value_support=network.value_support, reward_support=network.reward_support,
            value_weight=loss.value_weight, policy_weight=loss.policy_weight, reward_weight=loss.reward_weight,
            feature_weight=loss.feature_weight, observation_weight=loss.observation_weight,
            consistency_weight=loss.consistency_weight,
            reanalyze_count=round(loss.reanalyze_fraction * replay.batch_size),
            off_policy_correction=loss.off_policy_correction, augmentation=loss.augmentation,
            observation_noise=loss.observation_noise,
            mirror=envs.make(config.env, **config.env_kwargs).mirror if loss.mirror else None,
            prioritized=replay.prioritized, sample_to_head=replay.sample_to_head, priority_alpha=replay.priority_alpha,
            priority_beta_start=replay.priority_beta_start, priority_eps=replay.priority_eps,
            target_update_interval=loss.target_update_interval, target_ema=loss.target_ema,
            bootstrap=loss.bootstrap,
            mixed_value_age=loss.mixed_value_age if loss.value_target == "mixed" else None,
            value_lower_bound=loss.value_lower_bound,
            total_env_steps=config.total_env_steps)
