"""The planner and the objective it maximises. Imports envs and networks only.

Public API:
  plan, PlannerConfig, SearchOutput                    -- search (Gumbel / PUCT; mctx's, batch-first)
  Objective, LearnedValue, FeatureValue, Constant, Blend, ModelReward, FeatureReward,
  Leaf, Edge, ValueFn, RewardFn                        -- the objective seam
  LearnedModel, SimulatorModel, NodeEval               -- world models to plan through
  check_value_fn, ValueFnCheckError                    -- what is wrong with a user's ValueFn
"""
from search.check import ValueFnCheckError, check_value_fn
from search.models import LearnedModel, NodeEval, SimulatorModel
from search.objective import (
    Blend,
    Constant,
    Edge,
    FeatureReward,
    FeatureValue,
    Leaf,
    LearnedValue,
    ModelReward,
    Objective,
    RewardFn,
    ValueFn,
)
from search.planner import PlannerConfig, SearchOutput, plan

__all__ = [
    "Blend",
    "Constant",
    "Edge",
    "FeatureReward",
    "FeatureValue",
    "Leaf",
    "LearnedModel",
    "LearnedValue",
    "ModelReward",
    "NodeEval",
    "Objective",
    "PlannerConfig",
    "RewardFn",
    "SearchOutput",
    "SimulatorModel",
    "ValueFn",
    "ValueFnCheckError",
    "check_value_fn",
    "plan",
]
