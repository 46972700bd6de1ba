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

import contextlib
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

from agent.algorithm.iteration import Agent, seed_slice, to_host
from agent.algorithm.sharding import host_value
from agent.config import ConfigError, TrainConfig, load_config, save_config, validate
from agent.host.checkpoint import Checkpoints
from agent.host.distributed import barrier, is_main_process
from agent.host.gym_eval import GYMNASIUM_IDS, evaluate_on_gymnasium
from agent.host.records import NullRecorder, Recorder, plot_learning_curve
from agent.host.run_dir import remove_run_outputs, run_lock
from agent.host.xla_env_loop import check_env_stepping, env_loop


def device_memory() -> dict:
    """{"device_bytes_in_use": n} where the device reports it (GPUs, TPUs), {} elsewhere (CPUs)."""
    stats = jax.local_devices()[0].memory_stats()
    return {"device_bytes_in_use": int(stats["bytes_in_use"])} if stats and "bytes_in_use" in stats else {}


class NonFiniteLossError(RuntimeError):
    """The loss, or a value the objective gave the search, became NaN or inf; the run stopped
    and kept its last good checkpoint."""


@dataclass
class RunResult:
    """Where a run ended. With several seeds, final_eval_mean is the median over seeds of each
    seed's mean return and final_eval_std the spread (std) of those means; final_eval_means
    lists them per seed. state holds every seed (leading [S] axis). updates_per_seed lists every
    seed's learner update count (they differ with replay.updates_per_episode)."""

    run_dir: Path
    env_steps: int
    updates_per_seed: list[int]
    final_eval_mean: float | None
    final_eval_std: float | None
    gymnasium_eval_mean: float | None
    stopped_early: str | None  # "signal", "target", "time" (max_wall_s) or None
    wall_s: float
    state: object = None  # the final TrainState (device arrays, [S, ...])
    final_eval_means: list[float] | None = None

    @property
    def updates(self) -> int:
        """Seed 0's learner update count (every seed's, unless updates_per_episode is on)."""
        return self.updates_per_seed[0]


def seeds_label(config: TrainConfig) -> str:
    """'s3' for one seed, 's0-7' for eight."""
    last = config.seed + config.seeds - 1
    return f"s{config.seed}" if config.seeds == 1 else f"s{config.seed}-{last}"


def default_run_dir(config: TrainConfig) -> Path:
    env = config.env.replace(":", "_").replace("/", "_")  # gymnasium:ns/Id-v0 -> one folder name
    return Path("runs") / f"{env}-{seeds_label(config)}-{time.strftime('%Y%m%d-%H%M%S')}"


def agree(flag: bool) -> bool:
    """Process 0's `flag`, on every process (a decision from each process's own clock would let one
    process stop while the others wait for it in a collective). One process: `flag` itself."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils
    return bool(multihost_utils.broadcast_one_to_all(np.asarray(flag)))


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
          max_iterations: int | None = None, overwrite: bool = False, devices: int | None = None) -> RunResult:
    """Runs (or resumes) training and returns where it ended.

    config: the run's config (ignored when resuming: the run's config.json rules).
    resume: a run folder to continue from its latest readable checkpoint.
    max_iterations: stop after this many iterations of this call (tests use it
    to stop a run midway, as a kill would).
    overwrite: start afresh in a folder that already holds a run (its outputs are deleted).
    devices: with `resume`, the device count to continue on (None: the run's own; the checkpoint
    is re-split over them, and the run learns the same either way).

    Raises ConfigError (a bad field), FileNotFoundError / FileExistsError (a wrong folder),
    RunLockedError (another process writes the folder), CheckpointError (a checkpoint cannot
    be written or read), NonFiniteLossError; each message says what to change.
    """
    if resume is not None:
        if not (Path(resume) / "config.json").exists():
            raise FileNotFoundError(f"--resume {resume}: no config.json there; is it a run folder made by train.py?")
        config = load_config(Path(resume))
        if devices is not None:
            config = dataclasses.replace(config, devices=devices)
    elif devices is not None:
        raise ValueError("train(devices=...) is for resuming on another device count; set config.devices instead")
    if config is None:
        raise ValueError("train() needs a config or a run folder to resume")
    validate(config)
    # A device count this machine cannot give, or games that cannot step as asked, are refused before the folder is made.
    check_env_stepping(config, Agent.device_count(config))
    run_dir = Path(resume) if resume is not None else Path(config.out or default_run_dir(config))
    if jax.process_count() > 1 and resume is None and not config.out:
        raise ConfigError("a multi-process run needs --out: every process must name the same run folder")
    # One writer: process 0 locks the folder and writes its config; the others wait for it, then compute.
    with run_lock(run_dir) if is_main_process() else contextlib.nullcontext():
        if resume is None:
            if is_main_process():
                _prepare_new_run_dir(run_dir, overwrite)
                save_config(run_dir, dataclasses.replace(config, out=str(run_dir)))
            config = dataclasses.replace(config, out=str(run_dir))
        barrier("run folder ready")
        return _run(config, run_dir, resume is not None, quiet, max_iterations)


def _prepare_new_run_dir(run_dir: Path, overwrite: bool) -> None:
    """Refuses a folder that holds a run (unless `overwrite`, which clears what a run wrote there)."""
    if (run_dir / "checkpoints").exists() or (run_dir / "config.json").exists():
        if not overwrite:
            raise FileExistsError(f"{run_dir} already holds a run; pass --resume {run_dir} to continue it, "
                                  f"--overwrite to replace it, or choose another --out")
        remove_run_outputs(run_dir)


def return_text(value: float, scale: float, *, whole: bool = False) -> str:
    """An evaluation return for people: with returns in the tens or more (`scale`, e.g. CartPole's
    hundreds) one decimal (`whole`: none); below 10 (a gridworld's success rate in [0, 1]) three
    decimals (`whole`: two), so that a success rate of 0.969 does not print as 1.0."""
    if abs(scale) >= 10:
        return f"{value:.0f}" if whole else f"{value:.1f}"
    return f"{value:.2f}" if whole else f"{value:.3f}"


def _eval_summary(returns: np.ndarray) -> tuple[float, float]:
    """[S, episodes] returns -> (the median over seeds of each seed's mean, and for one seed the std over
    its episodes, for several the std of the seeds' means)."""
    means = returns.mean(axis=1)
    spread = returns[0].std() if len(means) == 1 else means.std()
    return float(np.median(means)), float(spread)


def _run(config: TrainConfig, run_dir: Path, resuming: bool, quiet: bool, max_iterations: int | None) -> RunResult:
    """The training loop of `train`, with the run folder locked and its config saved."""
    agent = Agent(config)
    main = is_main_process()
    seeds = agent.seeds
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
    # Host envs (gymnasium:<id>, atari:<Game>) step outside agent.iteration: their loop (on the host, or
    # Atari's inside a jitted function of its own) offers the agent's two calls.
    host_loop = env_loop(agent)
    iterate, evaluate = (host_loop.iteration, host_loop.evaluate) if host_loop else (agent.iteration, agent.evaluate)
    if host_loop:
        state = host_loop.resume(state)
        if not quiet:
            print(f"{config.env}: env stepping: {host_loop.description}")
    # A resumed run drops the records written after the checkpoint it continues from.
    # Process 0 writes the records and plots of a multi-process run; the others only compute.
    recorder = Recorder(run_dir, after_step=restored_step if resuming else None) if main else NullRecorder()
    start = time.perf_counter()
    wall = lambda: wall_offset + time.perf_counter() - start
    # max_wall_s limits this call (a resumed run gets as many seconds again); the records' wall_s
    # counts across resumes.
    out_of_time = lambda: config.max_wall_s is not None and agree(time.perf_counter() - start >= config.max_wall_s)
    last_eval: np.ndarray | None = None  # [S, episodes] returns of the latest evaluation
    stopped = None
    result_gym = None
    env_steps = int(host_value(state.env_steps)[0])
    title = f"{config.env}, seed {seeds[0]}" if len(seeds) == 1 else f"{config.env}, seeds {seeds[0]}-{seeds[-1]}"

    def host_counters():
        return {"wall_s": wall(), "next_eval": next_eval, "next_checkpoint": next_ckpt, "stopped": stopped}

    def per_seed(common: dict, values: dict) -> list[dict]:
        """One row per seed: the common fields, then each seed's entry of every [S] list."""
        return [{**common, "seed": seed, **{name: value[i] for name, value in values.items()}}
                for i, seed in enumerate(seeds)]

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]:>7.0f} env steps/s"),
                        TextColumn("eval {task.fields[eval]}"), TextColumn("loss {task.fields[loss]}"),
                        TimeElapsedColumn(), disable=quiet or not main)
    with _StopFlag() as stop, progress, contextlib.closing(host_loop) if host_loop else contextlib.nullcontext():
        task = progress.add_task(f"{config.env} {seeds_label(config)}", total=config.total_env_steps,
                                 completed=env_steps, rate=0.0, eval="-", loss="-")
        iterations, rate_clock, rate_steps = 0, time.perf_counter(), env_steps
        compile_s = None
        while env_steps < config.total_env_steps:
            t0 = time.perf_counter()
            state, metrics = iterate(state)
            metrics = to_host(metrics)
            if compile_s is None:
                compile_s = time.perf_counter() - t0  # first call: compile + one iteration
                rate_clock, rate_steps = time.perf_counter(), int(host_value(state.env_steps)[0])  # steps/s after compile
            iterations += 1
            env_steps = int(host_value(state.env_steps)[0])
            common = {"env_steps": env_steps, "wall_s": wall()}
            metrics["updates"] = host_value(state.learner.updates).tolist()  # per seed (updates_per_episode)
            bad_search = [s for s, n in zip(seeds, metrics["nonfinite_search_values"]) if n]
            bad_loss = [s for s, loss in zip(seeds, metrics["loss"]) if not math.isfinite(loss)]
            if bad_search or bad_loss:
                recorder.write(per_seed(common, metrics))
                recorder.close()
                checkpoints.close()
                kept = (f"stopped without saving this state. The last good checkpoint is in "
                        f"{checkpoints.directory} (step {checkpoints.latest_step()}).")
                if bad_search:
                    places = sum(metrics["nonfinite_search_values"])
                    raise NonFiniteLossError(
                        f"the objective {agent.objective} gave NaN or inf at {places} places of the acting "
                        f"searches before env step {env_steps} (seed {', '.join(map(str, bad_search))}); {kept} "
                        f"A hand value or reward must be finite on every state (search.check_value_fn tries one "
                        f"on sample states).")
                loss = metrics["loss"][seeds.index(bad_loss[0])]
                raise NonFiniteLossError(
                    f"loss is {loss} at env step {env_steps} (seed {', '.join(map(str, bad_loss))}); {kept} "
                    f"Try a lower --optim.learning-rate or --optim.max-grad-norm.")
            values = {**metrics}
            values["train_return_mean"] = [total / count if count else None for total, count in
                                           zip(metrics["train_return_sum"], metrics["episodes_finished"])]
            first = {"compile_s": compile_s,
                     "env_stepping": host_loop.description if host_loop else "jitted"}
            extra = {**device_memory(), **(first if iterations == 1 else {})}
            time_is_up = out_of_time()
            evaluated = env_steps >= next_eval or env_steps >= config.total_env_steps or time_is_up
            if evaluated:
                while next_eval <= env_steps:
                    next_eval += config.eval.every_env_steps
                last_eval = host_value(evaluate(state.learner.params, agent.eval_keys(env_steps),
                                                episodes=config.eval.episodes,
                                                num_simulations=config.eval.num_simulations))
                values["eval_return_mean"] = last_eval.mean(axis=1).tolist()
                values["eval_return_std"] = last_eval.std(axis=1).tolist()
                median, _ = _eval_summary(last_eval)
                low, high = last_eval.mean(axis=1).min(), last_eval.mean(axis=1).max()
                progress.update(task, eval=return_text(median, high) if len(seeds) == 1 else
                                (f"{return_text(median, high)} (median; {return_text(low, high, whole=True)}.."
                                 f"{return_text(high, high, whole=True)})"))
            if evaluated or iterations == 1 or iterations % config.log_every_iterations == 0:
                recorder.write(per_seed({**common, **extra}, values))
            now = time.perf_counter()
            progress.update(task, completed=env_steps, loss=f"{np.median(metrics['loss']):.3f}",
                            rate=(env_steps - rate_steps) / max(now - rate_clock, 1e-9))
            if evaluated and main:
                plot_learning_curve(run_dir, title)
            target = config.eval.stop_at_return
            if evaluated and target is not None and bool(np.all(last_eval.mean(axis=1) >= target)):
                stopped = "target"  # every seed's latest evaluation reached it
            if time_is_up and not stopped:
                stopped = "time"
            if stop.signal_name:
                stopped = "signal"
            if env_steps >= next_ckpt or stopped or (max_iterations and iterations >= max_iterations):
                while next_ckpt <= env_steps:
                    next_ckpt += config.checkpoint_every_env_steps
                checkpoints.save(env_steps, state, host_counters())
            if stopped or (max_iterations and iterations >= max_iterations):
                break
        done = env_steps >= config.total_env_steps or stopped == "target"  # "time": saved above, no gymnasium eval
        if done and checkpoints.latest_step() != env_steps:
            checkpoints.save(env_steps, state, host_counters())
    # gymnasium's env runs in this process alone: a multi-process run skips it.
    if done and config.eval_on_gymnasium and agent.env.name in GYMNASIUM_IDS and jax.process_count() == 1:
        gym_returns = np.stack([
            evaluate_on_gymnasium(agent, seed_slice(state.learner.params, i), episodes=config.eval.episodes,
                                  num_simulations=config.eval.num_simulations, seed=seed)
            for i, seed in enumerate(seeds)])
        result_gym = _eval_summary(gym_returns)[0]
        recorder.write(per_seed({"env_steps": env_steps, "wall_s": wall()},
                                {"updates": host_value(state.learner.updates).tolist(),
                                 "gymnasium_eval_return_mean": gym_returns.mean(axis=1).tolist(),
                                 "gymnasium_eval_return_std": gym_returns.std(axis=1).tolist()}))
    recorder.close()
    checkpoints.close()
    if main:
        plot_learning_curve(run_dir, title)
    if stop.signal_name and not quiet and main:
        print(f"stopped by {stop.signal_name}; saved at env step {env_steps}. Continue with: "
              f"python train.py --resume {run_dir}")
    summary = _eval_summary(last_eval) if last_eval is not None else (None, None)
    return RunResult(run_dir=run_dir, env_steps=env_steps, updates_per_seed=host_value(state.learner.updates).tolist(),
                     final_eval_mean=summary[0], final_eval_std=summary[1],
                     gymnasium_eval_mean=result_gym, stopped_early=stopped, wall_s=wall(), state=state,
                     final_eval_means=None if last_eval is None else last_eval.mean(axis=1).tolist())
