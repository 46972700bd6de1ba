"""Data parallelism over local devices (agent/algorithm/sharding.py), on 4 virtual CPU devices.

XLA_FLAGS=--xla_force_host_platform_device_count=4 must be set before JAX starts, so each test
runs a small script in a fresh Python process.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from tests.conftest import ROOT

PRELUDE = """
import dataclasses, json, sys
import jax, numpy as np
from tests.conftest import TINY
from agent.algorithm.iteration import Agent
from agent.host.run import train
# 4 envs and a batch of 8 split over 1, 2 or 4 devices
CONFIG = dataclasses.replace(TINY, num_envs=4, replay=dataclasses.replace(TINY.replay, batch_size=8))
"""


def run_script(body: str) -> dict:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_two_and_four_devices_learn_the_same():
    out = run_script("""
        result = {}
        for devices in (1, 2, 4):
            agent = Agent(dataclasses.replace(CONFIG, devices=devices))
            state = agent.init()
            losses = []
            for _ in range(6):  # learning starts at iteration 4 (8 rows per env stream)
                state, metrics = agent.iteration(state)
                losses.append(float(np.asarray(metrics["loss"])[0]))
            replay = jax.tree.leaves(state.replay.data)[0]  # [S, C, E, ...]
            envs_per_device = replay.sharding.shard_shape(replay.shape)[2]
            leaf = np.asarray(jax.tree.leaves(state.learner.params)[0]).ravel()[:4].tolist()
            result[devices] = {"losses": losses, "envs_per_device": envs_per_device, "param": leaf,
                               "updates": int(state.learner.updates[0])}
        print(json.dumps(result))
    """)
    assert [out[d]["envs_per_device"] for d in ("1", "2", "4")] == [4, 2, 1]  # the replay really is split
    assert out["1"]["updates"] > 0
    # Same global batch and envs: the same learning. Tolerance 1e-5 relative for the all-reduce's float
    # order; on this machine's CPU the three runs were bit-identical.
    for d in ("2", "4"):
        np.testing.assert_allclose(out[d]["losses"], out["1"]["losses"], rtol=1e-5)
        np.testing.assert_allclose(out[d]["param"], out["1"]["param"], rtol=1e-5, atol=1e-7)


def test_a_checkpoint_written_on_four_devices_resumes_on_one(tmp_path):
    out = run_script(f"""
        run = {str(tmp_path / "run")!r}
        first = train(dataclasses.replace(CONFIG, devices=4, out=run), quiet=True, max_iterations=4)
        resumed = train(resume=run, devices=1, quiet=True, max_iterations=2)
        straight = train(dataclasses.replace(CONFIG, devices=4, out=run + "_straight"), quiet=True, max_iterations=6)
        leaf = lambda result: np.asarray(jax.tree.leaves(result.state.learner.params)[0]).ravel()[:8].tolist()
        print(json.dumps({{"first": first.env_steps, "resumed": resumed.env_steps, "straight": straight.env_steps,
                          "resumed_param": leaf(resumed), "straight_param": leaf(straight),
                          "saved_devices": json.load(open(run + "/config.json"))["devices"]}}))
    """)
    assert out["resumed"] == out["first"] + 2 * 4 * 2 == out["straight"]  # two more iterations of 4 envs x 2 steps
    # Resumed on one device, the run learns what it would have learnt on four (same tolerance as above).
    np.testing.assert_allclose(out["resumed_param"], out["straight_param"], rtol=1e-5, atol=1e-7)
    assert out["saved_devices"] == 4  # the run's config is kept; --devices on resume is this run's choice

