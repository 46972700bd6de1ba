"""The host side of training: progress, evaluation, records, checkpoints, signals.

    result = train(config)              # a new run
    result = train(config, resume=DIR)  # continue a stopped run where it stopped

All the work of an iteration happens in `Agent.iteration` (one jitted call);
this loop only reads its metrics, evaluates every `eval.every_env_steps`,
checkpoints every `checkpoint_every_env_steps`, and saves before exiting on
Ctrl-C / SIGTERM. A non-finite loss stops the run with a clear message and
keeps the last good checkpoint.
"""
from __future__ import annotations

import dataclasses
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from agent.algorithm.iteration import Agent, to_host
from agent.config import TrainConfig, load_config, save_config, validate
from agent.host.checkpoint import Checkpoints
from agent.host.gym_eval import GYMNASIUM_IDS, evaluate_on_gymnasium
from agent.host.records import Recorder, plot_learning_curve
from agent.host.run_dir import remove_run_outputs, run_lock


def device_memory() -> dict:
    """{"device_bytes_in_use": n} where the device reports it (GPUs, TPUs), {} elsewhere (CPUs)."""
    stats = jax.devices()[0].memory_stats()
    return {"device_bytes_in_use": int(stats["bytes_in_use"])} if stats and "bytes_in_use" in stats else {}


class NonFiniteLossError(RuntimeError):
    """The loss, or a value the objective gave the search, became NaN or inf; the run stopped
    and kept its last good checkpoint."""


@dataclass
class RunResult:
    run_dir: Path
    env_steps: int
    updates: int
    final_eval_mean: float | None
    final_eval_std: float | None
    gymnasium_eval_mean: float | None
    stopped_early: str | None  # "signal", "target" or None
    wall_s: float
    state: object = None  # the final TrainState (device arrays)


def default_run_dir(config: TrainConfig) -> Path:
    return Path("runs") / f"{config.env}-s{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag checked between iterations."""

    def __init__(self):
        self.signal_name: str | None = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers, no graceful stop
                pass
        return self

    def _handle(self, signum, frame):
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def train(config: TrainConfig | None = None, resume: str | Path | None = None, *, quiet: bool = False,
          max_iterations: int | None = None, overwrite: bool = False) -> RunResult:
    """Runs (or resumes) training and returns where it ended.

    config: the run's config (ignored when resuming: the run's config.json rules).
    resume: a run folder to continue from its latest readable checkpoint.
    max_iterations: stop after this many iterations of this call (tests use it
    to stop a run midway, as a kill would).
    overwrite: start afresh in a folder that already holds a run (its outputs are deleted).

    Raises ConfigError (a bad field), FileNotFoundError / FileExistsError (a wrong folder),
    RunLockedError (another process writes the folder), CheckpointError (a checkpoint cannot
    be written or read), NonFiniteLossError; each message says what to change.
    """
    if resume is not None:
        if not (Path(resume) / "config.json").exists():
            raise FileNotFoundError(f"--resume {resume}: no config.json there; is it a run folder made by train.py?")
        config = load_config(Path(resume))
    if config is None:
        raise ValueError("train() needs a config or a run folder to resume")
    validate(config)
    run_dir = Path(resume) if resume is not None else Path(config.out or default_run_dir(config))
    with run_lock(run_dir):
        if resume is None:
            if (run_dir / "checkpoints").exists() or (run_dir / "config.json").exists():
                if not overwrite:
                    raise FileExistsError(f"{run_dir} already holds a run; pass --resume {run_dir} to continue it, "
                                          f"--overwrite to replace it, or choose another --out")
                remove_run_outputs(run_dir)
            config = dataclasses.replace(config, out=str(run_dir))
            save_config(run_dir, config)
        return _run(config, run_dir, resume is not None, quiet, max_iterations)


def _run(config: TrainConfig, run_dir: Path, resuming: bool, quiet: bool, max_iterations: int | None) -> RunResult:
    """The training loop of `train`, with the run folder locked and its config saved."""
    agent = Agent(config)
    checkpoints = Checkpoints(run_dir, keep=config.keep_checkpoints)
    state = agent.init()
    wall_offset, next_eval, next_ckpt = 0.0, config.eval.every_env_steps, config.checkpoint_every_env_steps
    restored_step = 0
    if resuming and checkpoints.latest_step() is not None:
        state, host = checkpoints.restore(state)
        restored_step = host["step"]
        wall_offset = host.get("wall_s", 0.0)
        next_eval = host.get("next_eval", next_eval)
        next_ckpt = host.get("next_checkpoint", next_ckpt)
    # A resumed run drops the records written after the checkpoint it continues from.
    recorder = Recorder(run_dir, after_step=restored_step if resuming else None)
    start = time.perf_counter()
    wall = lambda: wall_offset + time.perf_counter() - start
    eval_key = jax.random.PRNGKey(config.seed + 10_000)
    last_eval: tuple[float, float] | None = None
    stopped = None
    result_gym = None
    env_steps = int(state.env_steps)

    def host_counters():
        return {"wall_s": wall(), "next_eval": next_eval, "next_checkpoint": next_ckpt}

    def run_eval(state, env_steps):
        returns = np.asarray(agent.evaluate(state.learner.params, jax.random.fold_in(eval_key, env_steps),
                                            episodes=config.eval.episodes,
                                            num_simulations=config.eval.num_simulations))
        return float(returns.mean()), float(returns.std())

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]:>7.0f} env steps/s"),
                        TextColumn("eval {task.fields[eval]}"), TextColumn("loss {task.fields[loss]}"),
                        TimeElapsedColumn(), disable=quiet)
    with _StopFlag() as stop, progress:
        task = progress.add_task(f"{config.env} s{config.seed}", total=config.total_env_steps,
                                 completed=env_steps, rate=0.0, eval="-", loss="-")
        iterations, rate_clock, rate_steps = 0, time.perf_counter(), env_steps
        compile_s = None
        while env_steps < config.total_env_steps:
            t0 = time.perf_counter()
            state, metrics = agent.iteration(state)
            metrics = to_host(metrics)
            if compile_s is None:
                compile_s = time.perf_counter() - t0  # first call: compile + one iteration
                rate_clock, rate_steps = time.perf_counter(), int(state.env_steps)  # steps/s after compile
            iterations += 1
            env_steps = int(state.env_steps)
            if metrics["nonfinite_search_values"] or not math.isfinite(metrics["loss"]):
                recorder.write({"env_steps": env_steps, "updates": int(state.learner.updates), "wall_s": wall(),
                                **metrics})
                recorder.close()
                checkpoints.close()
                kept = (f"stopped without saving this state. The last good checkpoint is in "
                        f"{checkpoints.directory} (step {checkpoints.latest_step()}).")
                if metrics["nonfinite_search_values"]:
                    raise NonFiniteLossError(
                        f"the objective {agent.objective} gave NaN or inf at {metrics['nonfinite_search_values']} "
                        f"places of the acting searches before env step {env_steps}; {kept} A hand value or reward "
                        f"must be finite on every state (search.check_value_fn tries one on sample states).")
                raise NonFiniteLossError(
                    f"loss is {metrics['loss']} at env step {env_steps}; {kept} "
                    f"Try a lower --optim.learning-rate or --optim.max-grad-norm.")
            row = {"env_steps": env_steps, "updates": int(state.learner.updates), "wall_s": wall(), **metrics,
                   **device_memory()}
            if metrics["episodes_finished"]:
                row["train_return_mean"] = metrics["train_return_sum"] / metrics["episodes_finished"]
            if iterations == 1:
                row["compile_s"] = compile_s
            evaluated = env_steps >= next_eval or env_steps >= config.total_env_steps
            if evaluated:
                while next_eval <= env_steps:
                    next_eval += config.eval.every_env_steps
                last_eval = run_eval(state, env_steps)
                row["eval_return_mean"], row["eval_return_std"] = last_eval
                progress.update(task, eval=f"{last_eval[0]:.1f}")
            if evaluated or iterations == 1 or iterations % config.log_every_iterations == 0:
                recorder.write(row)
            now = time.perf_counter()
            progress.update(task, completed=env_steps, loss=f"{metrics['loss']:.3f}",
                            rate=(env_steps - rate_steps) / max(now - rate_clock, 1e-9))
            if evaluated:
                plot_learning_curve(run_dir, f"{config.env}, seed {config.seed}")
            target = config.eval.stop_at_return
            if evaluated and target is not None and last_eval[0] >= target:
                stopped = "target"
            if stop.signal_name:
                stopped = "signal"
            if env_steps >= next_ckpt or stopped or (max_iterations and iterations >= max_iterations):
                while next_ckpt <= env_steps:
                    next_ckpt += config.checkpoint_every_env_steps
                checkpoints.save(env_steps, state, host_counters())
            if stopped or (max_iterations and iterations >= max_iterations):
                break
        done = env_steps >= config.total_env_steps or stopped == "target"
        if done and checkpoints.latest_step() != env_steps:
            checkpoints.save(env_steps, state, host_counters())
    if done and config.eval_on_gymnasium and agent.env.name in GYMNASIUM_IDS:
        gym_returns = evaluate_on_gymnasium(agent, state.learner.params, episodes=config.eval.episodes,
                                            num_simulations=config.eval.num_simulations, seed=config.seed)
        result_gym = float(gym_returns.mean())
        recorder.write({"env_steps": env_steps, "updates": int(state.learner.updates), "wall_s": wall(),
                        "gymnasium_eval_return_mean": result_gym,
                        "gymnasium_eval_return_std": float(gym_returns.std())})
    recorder.close()
    checkpoints.close()
    plot_learning_curve(run_dir, f"{config.env}, seed {config.seed}")
    if stop.signal_name and not quiet:
        print(f"stopped by {stop.signal_name}; saved at env step {env_steps}. Continue with: "
              f"python train.py --resume {run_dir}")
    return RunResult(run_dir=run_dir, env_steps=env_steps, updates=int(state.learner.updates),
                     final_eval_mean=last_eval[0] if last_eval else None,
                     final_eval_std=last_eval[1] if last_eval else None,
                     gymnasium_eval_mean=result_gym, stopped_early=stopped, wall_s=wall(), state=state)
