"""Runs survive what happens to runs: kill -9 at any moment (mid-save included), damaged
checkpoints, a full disk, a second writer, code that changed under a saved run, bad input,
and they are deterministic. Tiny shapes throughout (tests/conftest.py)."""
import dataclasses
import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import typing

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs
import search
import train as train_cli
from agent.algorithm.iteration import Agent
from agent.config import ConfigError, validate
from agent.host.checkpoint import CheckpointError, Checkpoints
from agent.host.records import read_metrics
from agent.host.run import NonFiniteLossError, train
from agent.host.run_dir import RunLockedError, run_lock
from envs.hand_values import _HAND_VALUES
from tests.conftest import ROOT, TINY, TINY_ARGS

STEPS = TINY.env_steps_per_iteration  # env steps per iteration: 4


def comparable(rows: list[dict]) -> list[dict]:
    """Metric rows without what depends on the clock, or is said once per call of train() (compile_s and
    env_stepping are on each call's first row, so a resumed run has them where an uninterrupted one has not)."""
    return [{k: v for k, v in row.items() if k not in ("wall_s", "compile_s", "env_stepping")} for row in rows]


def assert_records_consistent(run):
    steps = [row["env_steps"] for row in read_metrics(run) if "gymnasium_eval_return_mean" not in row]
    assert steps == sorted(set(steps)), f"env steps recorded twice or out of order: {steps}"


def test_kill_9_at_random_moments_then_resume_from_the_last_complete_checkpoint(tmp_path):
    """Checkpoints every iteration, so some kills land mid-save; each resume must start from
    a complete checkpoint, with exact counters, and leave the records without duplicates."""
    run = tmp_path / "run"
    rng = random.Random(0)
    args = ["--out", str(run), *TINY_ARGS, "--checkpoint-every-env-steps", "4"]
    for attempt in range(2):
        cmd = [sys.executable, "train.py", *(args if attempt == 0 else ["--resume", str(run)])]
        before = len(read_metrics(run))
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 240
        while time.time() < deadline and len(read_metrics(run)) < before + 2 and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, err
    checkpoints = Checkpoints(run)
    saved_step = checkpoints.latest_step()
    saved, host = checkpoints.restore(Agent(TINY).init())
    checkpoints.close()
    assert saved_step is not None and int(saved.env_steps[0]) == host["step"] <= saved_step
    resumed = train(resume=run, quiet=True, max_iterations=1)
    assert resumed.env_steps == int(saved.env_steps[0]) + STEPS  # counters exact
    assert resumed.updates > int(saved.learner.updates[0])
    assert_records_consistent(run)


def corrupt(step_dir):
    """Overwrites every data file of an orbax step with garbage of the same length."""
    for path in step_dir.rglob("*"):
        if path.is_file() and ("/d/" in str(path) or path.name.endswith("manifest.ocdbt")):
            path.write_bytes(b"\0" * max(path.stat().st_size, 1))


def test_a_damaged_checkpoint_is_named_and_the_previous_one_is_used(tmp_path, capsys):
    run = tmp_path / "run"
    config = dataclasses.replace(TINY, out=str(run), checkpoint_every_env_steps=8)
    first = train(config, quiet=True, max_iterations=4)  # checkpoints at 8 and 16 (the stop)
    assert first.env_steps == 16
    corrupt(run / "checkpoints" / "16")
    resumed = train(resume=run, quiet=True, max_iterations=1)
    assert f"checkpoint {run.absolute()}/checkpoints/16 cannot be read" in capsys.readouterr().err
    assert resumed.env_steps == 8 + STEPS
    assert_records_consistent(run)


def test_a_full_disk_stops_the_run_with_a_message_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    config = dataclasses.replace(TINY, out=str(run), checkpoint_every_env_steps=8)
    real_save = ocp.CheckpointManager.save

    def save(self, step, *args, **kwargs):
        if step > 8:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", save)
    with pytest.raises(CheckpointError, match=r"at env step 16 .*No space left on device; the previous checkpoint "
                                              r"\(env step 8\) is intact"):
        train(config, quiet=True)
    monkeypatch.setattr(ocp.CheckpointManager, "save", real_save)
    state, host = Checkpoints(run).restore(Agent(config).init())
    assert host["step"] == 8 and int(state.env_steps[0]) == 8


def test_a_resume_drops_the_records_written_after_its_checkpoint(tmp_path):
    run = tmp_path / "run"
    config = dataclasses.replace(TINY, out=str(run), checkpoint_every_env_steps=8)
    train(config, quiet=True, max_iterations=5)  # rows 4..20, checkpoints 16 and 20
    checkpoints = Checkpoints(run)
    checkpoints.manager.delete(20)  # as if killed after logging 17-20 but before saving them
    checkpoints.close()
    assert read_metrics(run)[-1]["env_steps"] == 20
    train(resume=run, quiet=True, max_iterations=2)
    assert [row["env_steps"] for row in read_metrics(run)][-3:] == [16, 20, 24]
    assert_records_consistent(run)


def test_one_writer_per_run_folder(tmp_path):
    run = tmp_path / "run"
    config = dataclasses.replace(TINY, out=str(run))
    with run_lock(run), pytest.raises(RunLockedError, match=f"{run} is being written by another process "
                                                            f"\\(pid {os.getpid()}"):
        train(config, quiet=True, max_iterations=1)
    train(config, quiet=True, max_iterations=1)  # the lock went with its holder


def test_out_pointing_at_an_existing_run_needs_resume_or_overwrite(tmp_path):
    run = tmp_path / "run"
    config = dataclasses.replace(TINY, out=str(run))
    train(config, quiet=True, max_iterations=2)
    with pytest.raises(FileExistsError, match="already holds a run; pass --resume .* --overwrite"):
        train(config, quiet=True, max_iterations=1)
    train(config, quiet=True, max_iterations=1, overwrite=True)
    assert [row["env_steps"] for row in read_metrics(run)] == [STEPS]  # a fresh run, the old records gone


def test_resuming_after_the_code_changed_says_what_differs(tmp_path):
    run = tmp_path / "run"
    train(dataclasses.replace(TINY, out=str(run)), quiet=True, max_iterations=1)
    saved = json.loads((run / "config.json").read_text())
    wider = {**saved, "network": {**saved["network"], "hidden": 16}}
    (run / "config.json").write_text(json.dumps(wider))
    with pytest.raises(CheckpointError, match=r"written by other code or another config than this run's: "
                                              r".*saved \(1, 8\) float32, expected \(1, 16\)"):
        train(resume=run, quiet=True, max_iterations=1)
    (run / "config.json").write_text(json.dumps({**saved, "learning_rate": 0.1}))
    with pytest.raises(ConfigError, match=r"TrainConfig has no field\(s\) \['learning_rate'\]"):
        train(resume=run, quiet=True, max_iterations=1)


def test_a_config_saved_before_a_field_was_renamed_still_loads():
    """PlannerConfig.puct_implementation became .implementation; older run folders resume."""
    from agent.config import TrainConfig, config_from_dict

    saved = dataclasses.asdict(TrainConfig())
    planner = {k: v for k, v in saved["planner"].items() if k != "implementation"}
    old = {**saved, "planner": {**planner, "puct_implementation": "mctx"}}
    assert config_from_dict(TrainConfig, old).planner.implementation == "mctx"


def test_cli_errors_are_one_line_not_a_traceback(tmp_path, capsys):
    assert train_cli.main(["--resume", str(tmp_path / "nonexistent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume") and "no config.json there" in err and "Traceback" not in err


def test_same_seed_same_metrics_and_a_stopped_then_resumed_run_equals_an_uninterrupted_one(tmp_path):
    """Two runs of one config: one whole, one stopped after 3 iterations (as a kill would) and
    resumed. Their first rows are two runs of the same seed; the rest, a resume."""
    config = dataclasses.replace(TINY, total_env_steps=32, checkpoint_every_env_steps=8)
    whole = train(dataclasses.replace(config, out=str(tmp_path / "whole")), quiet=True)
    split = tmp_path / "split"
    train(dataclasses.replace(config, out=str(split)), quiet=True, max_iterations=3)
    stopped = comparable(read_metrics(split))
    train(resume=split, quiet=True)
    expected = comparable(read_metrics(whole.run_dir))
    assert stopped == expected[:len(stopped)]  # same seed, same metrics
    assert comparable(read_metrics(split)) == expected  # resumed = uninterrupted


# --- fuzzed configs ---------------------------------------------------------------------
FLAGS = ["total_env_steps", "num_envs", "act_steps_per_iteration", "discount", "value_blend",
         "replay.batch_size", "replay.capacity_per_env", "replay.min_size_per_env", "replay.replay_ratio",
         "loss.unroll_steps", "loss.td_steps", "loss.reanalyze_fraction", "optim.learning_rate",
         "optim.max_grad_norm", "eval.episodes", "planner.num_simulations", "network.hidden",
         "network.value_support", "keep_checkpoints"]


def field_type(flag: str) -> type:
    """int or float: the declared type of a (nested) TrainConfig field, as tyro parses it."""
    owner = TINY
    *heads, name = flag.split(".")
    for head in heads:
        owner = getattr(owner, head)
    return typing.get_type_hints(type(owner))[name]


def values(flag: str):
    """Values of the field's own type, in and out of range (the CLI refuses other types)."""
    if field_type(flag) is int:
        return st.integers(-3, 600)
    return st.floats(-2.0, 2.0) | st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e30])


def with_field(config, flag: str, value):
    head, _, tail = flag.rpartition(".")
    if not head:
        return dataclasses.replace(config, **{flag: value})
    return dataclasses.replace(config, **{head: dataclasses.replace(getattr(config, head), **{tail: value})})


def names_a_field(message: str) -> bool:
    """Whether a ConfigError starts with `--<flag>` of a real TrainConfig field."""
    flag = message.split(" ", 1)[0]
    if not flag.startswith("--"):
        return False
    owner = TINY
    for part in flag[2:].replace("-", "_").split("."):
        if not hasattr(owner, part):
            return False
        owner = getattr(owner, part)
    return True


changes = st.lists(st.sampled_from(FLAGS).flatmap(lambda f: st.tuples(st.just(f), values(f))), min_size=1,
                   max_size=3)


@settings(max_examples=200, deadline=None)
@given(changes)
def test_any_numeric_config_is_valid_or_refused_naming_its_field(changes):
    """validate() either accepts a config or refuses it with a ConfigError that names the flag
    at fault; no other exception, and no non-finite number gets through."""
    config = TINY
    try:
        for flag, value in changes:
            config = with_field(config, flag, value)
    except ValueError as err:  # PlannerConfig checks its own fields as it is built
        assert "PlannerConfig" in str(err)
        return
    try:
        validate(config)
    except ConfigError as err:
        assert names_a_field(str(err)), err
        return
    assert all(math.isfinite(value) for value in dict(changes).values())  # the last value of each flag counts


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(FLAGS), st.sampled_from(["abc", "1e999x", "[1]", "1.5.2", "two"]))
def test_wrong_types_on_the_command_line_exit_2_without_a_traceback(flag, value):
    option = "--" + flag.replace("_", "-")
    try:
        code = train_cli.main([option, value, "--out", "/nonexistent/never"])
    except SystemExit as exit_:  # tyro's own refusal
        code = exit_.code
    assert code == 2


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(FLAGS[1:]), st.integers(1, 4))
def test_a_valid_config_runs_an_iteration_cleanly(tmp_path, flag, value):
    config = with_field(dataclasses.replace(TINY, out=str(tmp_path / f"{flag}{value}")), flag, value)
    try:
        validate(config)
    except ConfigError:
        return
    result = train(config, quiet=True, max_iterations=1, overwrite=True)
    assert result.env_steps == config.env_steps_per_iteration
    assert np.isfinite([row["loss"] for row in read_metrics(result.run_dir)]).all()


# --- NaN from the objective --------------------------------------------------------------
def nan_when_right(features):
    """Broken on purpose: NaN wherever the cart is at or right of the centre."""
    return jnp.where(features[0] >= 0.0, jnp.nan, 1.0)


def test_a_nan_from_a_hand_value_is_reported_with_the_objective(tmp_path, monkeypatch):
    env = envs.make("cartpole")
    objective = search.Objective(value=search.FeatureValue(nan_when_right, name="nan_when_right"))
    states, _ = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    with pytest.raises(ValueError, match=r"Objective\(.*FeatureValue\(nan_when_right\).*\) gave NaN or inf"):
        search.plan(None, jax.random.PRNGKey(1), states, model=search.SimulatorModel(env), objective=objective,
                    config=search.PlannerConfig(num_simulations=4))
    # In training (under jit): the run stops with the objective's name and keeps its last checkpoint.
    monkeypatch.setitem(_HAND_VALUES["cartpole"], "nan_when_right", nan_when_right)
    config = dataclasses.replace(TINY, out=str(tmp_path / "run"), value="nan_when_right")
    with pytest.raises(NonFiniteLossError, match=r"FeatureValue\(nan_when_right\).*gave NaN or inf at \d+ places"):
        train(config, quiet=True)
