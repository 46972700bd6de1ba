"""Training runs that benchmarks share: reuse a finished run, resume a stopped one."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from agent.host.checkpoint import Checkpoints
from agent.host.run import train


class RunStopped(RuntimeError):
    """A benchmark's training run was stopped (Ctrl-C, SIGTERM) before its budget: its numbers
    would describe a shorter run than the benchmark says."""


class OtherConfig(RuntimeError):
    """A benchmark's run folder holds a run trained with another config."""


def _finished(result, config) -> float:
    """The run's wall seconds; RunStopped if a signal stopped it before its budget."""
    if result.stopped_early == "signal":
        raise RunStopped(f"the run in {config.out} was stopped at env step {result.env_steps} of "
                         f"{config.total_env_steps}; rerun the benchmark to resume it")
    return result.wall_s


def _refuse_other_config(out: Path, config) -> None:
    """A folder trained with another config (an older preset, other benchmark arguments) must
    not be reused or resumed as if it were this one."""
    saved = out / "config.json"
    if not saved.exists():
        return
    wanted = json.loads(json.dumps(dataclasses.asdict(config)))  # tuples -> lists, as on disk
    have = json.loads(saved.read_text())
    if have != wanted:
        differ = sorted(k for k in set(have) | set(wanted) if have.get(k) != wanted.get(k))
        raise OtherConfig(f"{out} holds a run with another config (fields {differ} differ); delete that "
                         f"folder or pass another runs folder to the benchmark")


def train_or_reuse(config) -> float:
    """Trains `config` into config.out unless a finished run is there (resumes a stopped one),
    so a rerun of a long benchmark redoes nothing that is done. Returns the run's training
    wall seconds (read from its last checkpoint when reused). Raises RunStopped if a signal
    stops the run: the benchmark must not summarise a run cut short."""
    out = Path(config.out)
    _refuse_other_config(out, config)
    if (out / "checkpoints").exists():
        checkpoints = Checkpoints(out)
        latest = checkpoints.latest_step()
        checkpoints.close()
        if latest is not None and latest >= config.total_env_steps:
            host = out / "checkpoints" / f"{latest}.json"
            return json.loads(host.read_text()).get("wall_s", 0.0) if host.exists() else 0.0
        return _finished(train(resume=out, quiet=True), config)
    return _finished(train(config, quiet=True), config)
