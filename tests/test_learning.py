"""The learning bar, on any machine: four seeds of the default CartPole-v1 preset trained
together (one vmapped program) for 750 env steps, each evaluated with 20 greedy episodes
every 250 env steps.

Where the thresholds come from (benchmarks/results/sample_efficiency.json, variant
"default": 8 seeds on the 2-core CPU, the same config and evaluations): within 750 env
steps the seeds' best evaluations were 157, 203, 273, 283, 292, 347, 414 and 483 (seeds
0-3: 347, 273, 292, 283). The test asks the median of seeds 0-3 for MEDIAN = 150 (the
studied median, 287, is 1.9x that; a median under 150 needs two of four seeds below the
worst one studied) and each seed for PER_SEED = 60 (2.6x under the worst studied seed), well
above what a policy that ignores the state keeps up (a few tens of steps). XLA's numerics differ between CPUs, so seeds on another machine are
fresh draws: no seed is held near the edge of what it did here. Measured again on another CPU
(benchmarks/results/sample_efficiency_replication.json, "default"; a Zen 4 with AVX-512), the 8 seeds'
best evaluations within 750 env steps were 205, 261, 323, 343, 347, 500, 500 and 500 (seeds 0-3: 347,
500, 500, 323): other numbers, the same margins. The 475 bar itself needs
more env steps than a CI run can spend (median 1,384, two of eight seeds not within 2,000;
see README).
"""
import dataclasses

import numpy as np

from agent.algorithm.iteration import Agent, seed_slice
from agent.config import preset
from agent.host.gym_eval import evaluate_on_gymnasium
from agent.host.records import read_metrics, rows_by_seed
from agent.host.run import train

BUDGET = 750
PER_SEED, MEDIAN = 60.0, 150.0


def test_four_vmapped_seeds_learn_cartpole_within_750_env_steps(tmp_path):
    base = preset("cartpole")
    config = dataclasses.replace(
        base, seed=0, seeds=4, total_env_steps=BUDGET, out=str(tmp_path / "run"), eval_on_gymnasium=False,
        checkpoint_every_env_steps=BUDGET,
        eval=dataclasses.replace(base.eval, episodes=20, every_env_steps=250, stop_at_return=None))
    result = train(config, quiet=True)
    best = {seed: max(r["eval_return_mean"] for r in rows if r.get("eval_return_mean") is not None)
            for seed, rows in rows_by_seed(read_metrics(tmp_path / "run")).items()}
    assert sorted(best) == [0, 1, 2, 3]
    assert min(best.values()) >= PER_SEED, best
    assert float(np.median(list(best.values()))) >= MEDIAN, best
    # The best seed's final parameters on gymnasium's own CartPole-v1 (the JAX env is a faithful copy,
    # tests/test_envs.py): the learnt behaviour carries over through the host adapter.
    top = int(np.argmax(result.final_eval_means))
    returns = evaluate_on_gymnasium(Agent(config), seed_slice(result.state.learner.params, top), episodes=8,
                                    num_simulations=config.eval.num_simulations, seed=1)
    assert returns.mean() >= PER_SEED, (returns, result.final_eval_means)
