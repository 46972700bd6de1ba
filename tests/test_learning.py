"""The learning bar, on any machine: four seeds of the default CartPole-v1 preset trained
together (one vmapped program) for 1,000 env steps, each evaluated with 20 greedy episodes
every 250 env steps (at 256, 512, 752 and 1,008 env steps).

Where the thresholds come from: the preset's learning curves on the 2-core CPU (a Zen 4 with
AVX-512), the same config and evaluations, 16 seeds: benchmarks/results/cartpole_cpu.json (seeds 0-7)
and cartpole_cpu_seeds_8_15.json (seeds 8-15). Within 1,000 env steps the seeds' best evaluations were
170, 236, 316, 374, 391, 413, 469, 476, 477, 489, 492 and five of 500 (seeds 0-3: 500, 500, 170, 316).
This test's own run, 4 seeds vmapped rather than 8 (other numerics, so other draws), gave 489, 500,
366 and 500 on that CPU (`python -m benchmarks.learning_test_bests` prints them). The test asks the median of seeds 0-3 for MEDIAN = 120 (the 16 seeds'
median, 477, is 4.0x that; a median under 120 needs two of four seeds below 120, where none of those
20 best evaluations was: the lowest are 170 and 236) and each seed for PER_SEED = 60 (2.8x under the
weakest of the 20), well above what a policy that ignores the state keeps up (a few tens of steps).
XLA's numerics differ between CPUs, so seeds on another machine are fresh draws: no seed is held
near the edge of what it did here. The bars were set with the preset's observation noise alone, whose
weakest best within 1,000 env steps was 134 over the same 16 seeds (cartpole_cpu_observation_noise*.json),
and kept through the mirror (weakest 258, cartpole_cpu_mirror*.json) and target copies every update
(170, above). The 475 bar itself needs more env steps than a CI run can spend (median 752 over the 16
seeds, the worst 1,760; see README).
"""
import dataclasses

import numpy as np

from agent.algorithm.iteration import Agent, seed_slice
from agent.config import preset
from agent.host.gym_eval import evaluate_on_gymnasium
from agent.host.records import read_metrics, rows_by_seed
from agent.host.run import train

BUDGET = 1_000
PER_SEED, MEDIAN = 60.0, 120.0


def test_four_vmapped_seeds_learn_cartpole_within_1000_env_steps(tmp_path):
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
