"""Training runs that benchmarks share: reuse a finished run, resume a stopped one."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from agent.config import ConfigError, load_config
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


def _differences(have, want, prefix: str = "") -> list[str]:
    """Dotted paths of the fields where two nested config dicts differ."""
    if not (isinstance(have, dict) and isinstance(want, dict)):
        return [] if have == want else [prefix.rstrip(".") or "(config)"]
    found = []
    for key in sorted(set(have) | set(want)):
        found += _differences(have.get(key), want.get(key), f"{prefix}{key}.")
    return found


def config_differences(saved, wanted) -> list[str]:
    """Dotted paths of the TrainConfig fields where two configs would learn differently: where the
    run lives and how many devices it was split over do not count."""
    ignore = {"out": "", "devices": 0}
    have = json.loads(json.dumps({**dataclasses.asdict(saved), **ignore}))  # tuples -> lists
    want = json.loads(json.dumps({**dataclasses.asdict(wanted), **ignore}))
    return _differences(have, want)


def _refuse_other_config(out: Path, config) -> None:
    """A folder trained with another config (an older preset, other benchmark arguments) must
    not be reused or resumed as if it were this one. Fields added since the run was saved take
    their defaults (load_config fills them in)."""
    if not (out / "config.json").exists():
        return
    try:
        saved = load_config(out)
    except ConfigError as err:
        raise OtherConfig(f"{out} holds a run this code cannot read ({err}); delete that folder or pass "
                          f"another runs folder to the benchmark") from None
    differ = config_differences(saved, config)
    if differ:
        raise OtherConfig(f"{out} holds a run with another config ({', '.join(differ)} differ); delete that "
                          f"folder or pass another runs folder to the benchmark")


def train_or_reuse(config) -> float:
    """Trains `config` into config.out unless a finished run is there (its env-step budget done, or
    stopped by its wall-clock budget; a run stopped otherwise is resumed),
    so a rerun of a long benchmark redoes nothing that is done. Returns the run's training
    wall seconds (read from its last checkpoint when reused). Raises RunStopped if a signal
    stops the run: the benchmark must not summarise a run cut short."""
    out = Path(config.out)
    _refuse_other_config(out, config)
    if (out / "checkpoints").exists():
        checkpoints = Checkpoints(out)
        latest = checkpoints.latest_step()
        checkpoints.close()
        host_file = out / "checkpoints" / f"{latest}.json"
        host = json.loads(host_file.read_text()) if latest is not None and host_file.exists() else {}
        # A run its wall-clock budget stopped (max_wall_s) is finished too: resuming would add as much again.
        if latest is not None and (latest >= config.total_env_steps or host.get("stopped") == "time"):
            return host.get("wall_s", 0.0)
        return _finished(train(resume=out, quiet=True), config)
    return _finished(train(config, quiet=True), config)


def study_run(runs_dir: str | Path, variant: str, env: str = "cartpole") -> Path:
    """The folder of a sample-efficiency study's run of `variant` under `runs_dir`; a clear exit,
    with the command that trains it, if there is none."""
    run = Path(runs_dir) / variant
    if not (run / "config.json").exists():
        env_flag = "" if env == "cartpole" else f" --env {env} --env-steps <the study's> --eval-every <the study's>"
        raise SystemExit(f"error: no run of variant {variant!r} in {runs_dir}; run python -m "
                         f"benchmarks.sample_efficiency{env_flag} --variants {variant} --runs-dir {runs_dir} "
                         f"(README gives each study's command)")
    return run
