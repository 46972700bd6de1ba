"""Checkpoints of the whole TrainState (params, optimiser, replay, envs, keys) with orbax,
and `load_run`: a saved run's agent and latest parameters.

Layout: RUN/checkpoints/<env_steps>/ (orbax) and RUN/checkpoints/<env_steps>.json
(host-side counters: wall seconds so far, the next evaluation step).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from agent.algorithm.iteration import Agent
from agent.config import load_config


class Checkpoints:
    """Saves and restores TrainStates under `run_dir/checkpoints`, keeping the newest `keep`."""

    def __init__(self, run_dir: str | Path, keep: int = 2):
        self.directory = Path(run_dir).absolute() / "checkpoints"
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def save(self, step: int, state: Any, host: dict) -> None:
        """Blocks until written, so a save before exit is complete."""
        self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self.manager.wait_until_finished()
        (self.directory / f"{step}.json").write_text(json.dumps(host))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restores into the structure (and shapes/dtypes) of `template`."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint under {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        state = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
        host_file = self.directory / f"{step}.json"
        host = json.loads(host_file.read_text()) if host_file.exists() else {}
        return state, host

    def close(self) -> None:
        self.manager.close()


def load_run(run_dir: str | Path) -> tuple[Agent, Any]:
    """(agent, params) of a saved run's latest checkpoint."""
    config = load_config(run_dir)
    agent = Agent(config)
    checkpoints = Checkpoints(run_dir)
    state, _ = checkpoints.restore(agent.init())
    checkpoints.close()
    return agent, state.learner.params
