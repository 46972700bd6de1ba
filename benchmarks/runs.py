"""Training runs that benchmarks share: reuse a finished run, resume a stopped one."""
from __future__ import annotations

import json
from pathlib import Path

from agent.host.checkpoint import Checkpoints
from agent.host.run import train


def train_or_reuse(config) -> float:
    """Trains `config` into config.out unless a finished run is there (resumes a stopped one),
    so a rerun of a long benchmark redoes nothing that is done. Returns the run's training
    wall seconds (read from its last checkpoint when reused)."""
    out = Path(config.out)
    if (out / "checkpoints").exists():
        checkpoints = Checkpoints(out)
        latest = checkpoints.latest_step()
        checkpoints.close()
        if latest is not None and latest >= config.total_env_steps:
            host = out / "checkpoints" / f"{latest}.json"
            return json.loads(host.read_text()).get("wall_s", 0.0) if host.exists() else 0.0
        return train(resume=out, quiet=True).wall_s
    return train(config, quiet=True).wall_s
