"""Data parallelism over local devices (agent/algorithm/sharding.py), on 4 virtual CPU devices.

XLA_FLAGS=--xla_force_host_platform_device_count=4 must be set before JAX starts, so each test
runs a small script in a fresh Python process.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from agent.host.records import read_metrics
from tests.conftest import ROOT, TINY_ARGS

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



def _cli_args(out) -> list[str]:
    """TINY_ARGS with 4 envs and a batch of 8 (split over 4 devices), 6 iterations of 8 env steps."""
    args = list(TINY_ARGS)
    for flag, value in (("--num-envs", "4"), ("--replay.batch-size", "8"), ("--total-env-steps", "48")):
        args[args.index(flag) + 1] = value
    return [*args, "--out", str(out)]


def _launch(args: list[str], devices: int, log: Path) -> subprocess.Popen:
    """train.py in a fresh process, its stdout and stderr into the file `log`.

    A file, not a pipe: a pipe that is read only after another process ends fills up (64 KiB) and
    blocks the writer, and a blocked process of a multi-process run never reaches JAX's shutdown
    barrier, so its partner aborts after 300 s."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True)


def test_two_processes_train_one_run_as_one_process_does_on_as_many_devices(tmp_path):
    """Two processes on localhost (jax.distributed, CPU collectives through gloo), 2 virtual devices each:
    process 0 alone writes the run folder, and the run learns what one process on 4 devices learns."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    logs = [tmp_path / "process0.log", tmp_path / "process1.log", tmp_path / "single.log"]

    def wait(procs) -> list[int]:
        try:
            return [proc.wait(timeout=600) for proc in procs]
        except subprocess.TimeoutExpired:  # stop them all, then show their logs below
            for proc in procs:
                proc.kill()
            return [proc.wait() for proc in procs]

    # The pair runs first and the one-process reference after it, not beside it: gloo gives up
    # on a collective when the other process is 30 s late to it (a fixed timeout in XLA), and a
    # third process compiling on the same two cores once made process 1 that late to the first one.
    distributed = [_launch([*_cli_args(tmp_path / "run"), "--coordinator-address", f"localhost:{port}",
                            "--num-processes", "2", "--process-id", str(i)], devices=2, log=logs[i]) for i in range(2)]
    returncodes = wait(distributed)
    returncodes += wait([_launch(_cli_args(tmp_path / "single"), devices=4, log=logs[2])])
    if any(returncodes):  # every process's log, since one that hangs makes the other fail
        pytest.fail(f"return codes {returncodes}\n" + "\n".join(
            f"--- {log.name} (last 2000 characters) ---\n{log.read_text()[-2000:]}" for log in logs))
    rows, reference = read_metrics(tmp_path / "run"), read_metrics(tmp_path / "single")
    assert [r["env_steps"] for r in rows] == [r["env_steps"] for r in reference]  # written once, not per process
    assert rows[-1]["env_steps"] == 48 and rows[-1]["updates"] > 0
    # Same global batch and envs over 4 devices in both: the same learning (1e-5 relative, as above).
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in reference], rtol=1e-5)
    assert (tmp_path / "run" / "checkpoints" / "48").is_dir() and (tmp_path / "run" / "checkpoints" / "48.json").exists()
