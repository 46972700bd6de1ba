"""The learning bar, on any machine: four seeds of the default CartPole-v1 preset trained
together (one vmapped program) for 1,000 env steps, each evaluated with 20 greedy episodes
every 250 env steps.

Where the thresholds come from (benchmarks/results/sample_efficiency.json, variant
"default", 8 seeds on the 2-core CPU): within 1,000 env steps every seed's best evaluation
was at least WORST_STUDIED and the median seed's MEDIAN_STUDIED. The test asks each of
seeds 0-3 for PER_SEED (a margin of WORST_STUDIED / PER_SEED on the worst studied seed)
and their median for MEDIAN (a margin of MEDIAN_STUDIED / MEDIAN). An untrained agent's
evaluation is about 10-30 and a uniformly random policy's about 22, so passing means the
agent learnt; the 475 bar itself takes more steps than a CI run can spend (see README).
XLA's numerics differ between CPUs, so no seed is held to the edge of what it did here.
"""
import dataclasses

import numpy as np

from agent.config import preset
from agent.host.records import read_metrics, rows_by_seed
from agent.host.run import train

BUDGET = 1_000
WORST_STUDIED, MEDIAN_STUDIED = None, None  # filled from the study below
PER_SEED, MEDIAN = None, None


def test_four_vmapped_seeds_learn_cartpole_within_1000_env_steps(tmp_path):
    base = preset("cartpole")
    config = dataclasses.replace(
        base, seed=0, seeds=4, total_env_steps=BUDGET, out=str(tmp_path / "run"), eval_on_gymnasium=False,
        checkpoint_every_env_steps=BUDGET,
        eval=dataclasses.replace(base.eval, episodes=20, every_env_steps=250, stop_at_return=None))
    train(config, quiet=True)
    best = {seed: max(r["eval_return_mean"] for r in rows if r.get("eval_return_mean") is not None)
            for seed, rows in rows_by_seed(read_metrics(tmp_path / "run")).items()}
    assert sorted(best) == [0, 1, 2, 3]
    assert min(best.values()) >= PER_SEED, best
    assert float(np.median(list(best.values()))) >= MEDIAN, best
