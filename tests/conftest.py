"""Shared test helpers: the repository root and a tiny training config (few shapes, fast
compiles) as a TrainConfig and as train.py flags; and a persistent compilation cache."""
import os
import tempfile
from pathlib import Path

import jax

from agent.config import EvalConfig, LossConfig, ReplayConfig, TrainConfig
from networks import NetworkConfig
from search.planner import PlannerConfig

ROOT = Path(__file__).resolve().parents[1]

# Many tests compile the same tiny programs (every train() builds its own jitted functions):
# one persistent cache, shared by the pytest workers and the train.py processes they start,
# compiles each program once per machine. Keys include the program and the jax version.
COMPILE_CACHE = Path(tempfile.gettempdir()) / "glasszero-tests-jax-cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(COMPILE_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))

TINY = TrainConfig(
    total_env_steps=64, num_envs=2, act_steps_per_iteration=2,
    network=NetworkConfig(hidden=8, latent=8, layers=1, value_support=5, reward_support=2),
    planner=PlannerConfig(num_simulations=2),
    loss=LossConfig(unroll_steps=2, td_steps=2),
    replay=ReplayConfig(capacity_per_env=32, batch_size=4, min_size_per_env=8, replay_ratio=1.0,
                        replay_ratio_start=1.0),
    eval=EvalConfig(episodes=2, every_env_steps=1_000, num_simulations=2),
    checkpoint_every_env_steps=16, log_every_iterations=1, eval_on_gymnasium=False,
)
TINY_ARGS = ["--total-env-steps", "4000", "--num-envs", "2", "--act-steps-per-iteration", "2",
             "--network.hidden", "8", "--network.latent", "8", "--network.layers", "1",
             "--network.value-support", "5", "--network.reward-support", "2", "--planner.num-simulations", "2",
             "--loss.unroll-steps", "2", "--loss.td-steps", "2", "--replay.capacity-per-env", "32",
             "--replay.batch-size", "4", "--replay.min-size-per-env", "8", "--eval.episodes", "2",
             "--eval.num-simulations", "2", "--eval.every-env-steps", "100000",
             "--checkpoint-every-env-steps", "100000", "--log-every-iterations", "1", "--no-eval-on-gymnasium"]
