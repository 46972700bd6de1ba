"""Prints the best evaluation per seed of the learning tests' configs: tests/test_learning.py (the
JAX CartPole) and tests/test_host_envs.py (gymnasium's CartPole-v1 through the host loop), 4 vmapped
seeds of the CartPole preset, 1,000 env steps, 20 episodes every 250. The tests' docstrings quote
these numbers as the margin their thresholds have on the machine that measured them.

    python -m benchmarks.learning_test_bests
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from agent.config import preset
from agent.host.records import read_metrics, rows_by_seed
from agent.host.run import train


def best_evaluations(env: str) -> dict[int, tuple[float, list[float]]]:
    """seed -> (best evaluation, every evaluation) of the tests' config on `env`."""
    base = preset(env)
    out = Path(tempfile.mkdtemp()) / "run"
    config = dataclasses.replace(base, seed=0, seeds=4, total_env_steps=1_000, out=str(out), eval_on_gymnasium=False,
                                 checkpoint_every_env_steps=1_000,
                                 eval=dataclasses.replace(base.eval, episodes=20, every_env_steps=250,
                                                          stop_at_return=None))
    train(config, quiet=True)
    curves = {seed: [round(r["eval_return_mean"], 1) for r in rows if r.get("eval_return_mean") is not None]
              for seed, rows in rows_by_seed(read_metrics(out)).items()}
    return {seed: (max(curve), curve) for seed, curve in curves.items()}


if __name__ == "__main__":
    for env in ("cartpole", "gymnasium:CartPole-v1"):
        print(env, json.dumps(best_evaluations(env)), flush=True)
