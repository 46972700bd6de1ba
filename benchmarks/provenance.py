"""What every results file records about how it was made, and the one function that writes one.

    write_results(path, report, args, started)   # report + {"provenance": ...} as JSON

provenance: the git commit and whether the tree had uncommitted changes (and which files;
results files do not count), the command line, the benchmark's full arguments, the machine
(CPU model, family and vector instruction sets, cores, accelerator), the versions (python,
jax, jaxlib, flax, optax, mctx) and the wall time from `started` to the write.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.rstrip()  # keep the leading spaces of `git status --porcelain`


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The vector instruction sets XLA's CPU backend may compile for: two CPUs that differ in these run
# the same program with different float rounding (a learning run then drifts to other numbers).
VECTOR_ISA = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "amx_tile")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_id() -> dict:
    """Which CPU, beyond a model name that virtual machines often mask ('AMD EPYC'): vendor, family
    and model numbers (Linux), and the vector instruction sets of VECTOR_ISA it has."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {"vendor": info.get("vendor_id", platform.machine()), "family": info.get("cpu family"),
            "model": info.get("model"), "vector_isa": [isa for isa in VECTOR_ISA if isa in flags]}


def machine_text(recorded: dict | None) -> str:
    """A recorded machine() in words: 'AMD EPYC (family 25 model 17, AVX-512)'; files written before
    cpu_id existed give the model name alone."""
    if not recorded:
        return "not recorded"
    cpu = recorded.get("cpu_id")
    if cpu is None:
        return recorded["cpu"]
    wide = "AVX-512" if "avx512f" in cpu["vector_isa"] else "no AVX-512"
    return f"{recorded['cpu']} (family {cpu['family']} model {cpu['model']}, {wide})"


def device_label() -> str:
    """What ran the program, for a plot title: the accelerator's kind (e.g. 'NVIDIA H200') where JAX
    has one, else the CPU's model."""
    device = jax.devices()[0]
    kind = getattr(device, "device_kind", "") if device.platform != "cpu" else ""
    return kind or cpu_model()


def machine() -> dict:
    devices = jax.devices()
    return {"cpu": cpu_model(), "cpu_id": cpu_id(), "cores": os.cpu_count(), "os": platform.platform(),
            "accelerator": f"{devices[0].platform}: {getattr(devices[0], 'device_kind', '')}",
            "device_count": len(devices)}


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("jax", "jaxlib", "flax", "optax", "mctx", "orbax-checkpoint"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def command_line() -> str:
    """How this process was started, as a shell line (`python -m module args` for modules)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    head = ["python", "-m", spec.name] if spec is not None and spec.name != "__main__" else ["python", sys.argv[0]]
    return shlex.join(head + sys.argv[1:])


def provenance(args: Any, started: float) -> dict:
    """args: the benchmark's argument dataclass (recorded whole); started: time.perf_counter() at its start."""
    # Results written earlier in the same session are not code: they do not make the tree dirty.
    status = _git("status", "--porcelain", "--", ".", ":(exclude)benchmarks/results")
    changed = None if status is None else [line[3:] for line in status.splitlines()]
    head = _git("rev-parse", "HEAD")
    # A copy of a clean checkout (a borrowed GPU machine gets the files, and a .git that may be older
    # than them) names the commit it was copied from in GLASSZERO_COMMIT. That wins, and the copy's own
    # git view is kept beside it, so a reader sees both.
    named = os.environ.get("GLASSZERO_COMMIT")
    if named:
        if not re.fullmatch(r"[0-9a-f]{40}", named):
            raise ValueError(f"GLASSZERO_COMMIT={named!r} is not a full commit hash; set it to the output of "
                             f"`git rev-parse HEAD` in the clean checkout that was copied")
        return {"commit": named, "commit_source": "GLASSZERO_COMMIT (the files of a clean checkout of it, copied)",
                "dirty": None, "uncommitted": None, "copy_git": {"head": head, "uncommitted": changed},
                **_run_facts(args, started)}
    return {"commit": head, "commit_source": "git", "dirty": None if changed is None else bool(changed),
            "uncommitted": changed, **_run_facts(args, started)}


def _run_facts(args: Any, started: float) -> dict:
    return {
        "command": command_line(),
        "args": dataclasses.asdict(args) if dataclasses.is_dataclass(args) else args,
        "machine": machine(),
        "versions": versions(),
        "wall_s": round(time.perf_counter() - started, 1),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_results(path: str | Path, report: dict, args: Any, started: float) -> dict:
    """Writes `report` with its provenance as JSON at `path`; returns what was written."""
    full = {**report, "provenance": provenance(args, started)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(full, indent=2) + "\n")
    return full
