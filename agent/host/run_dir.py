"""A run folder has one writer: `run_lock` holds an OS lock on RUN/.lock while a run writes
there. The lock is the kernel's (flock), so a process that dies, even by kill -9, leaves
no stale lock behind; the file only records the holder's pid for the message."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

# What train() writes into a run folder (and so what --overwrite removes; nothing else is touched).
RUN_OUTPUTS = ("checkpoints", "metrics.jsonl", "tensorboard", "learning_curve.png", "config.json", "inspect")


class RunLockedError(RuntimeError):
    """Another live process is writing this run folder."""


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Holds the run folder's lock for the `with` block; raises RunLockedError if a live process has it."""
    path = Path(run_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunLockedError(f"{run_dir} is being written by another process (pid {holder}); wait for it to "
                                 f"end, stop it, or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_run_outputs(run_dir: str | Path) -> None:
    """Deletes what an earlier run wrote into `run_dir` (RUN_OUTPUTS only), for --overwrite."""
    for name in RUN_OUTPUTS:
        target = Path(run_dir) / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
