"""A picture of the objective explorer page, for README: inspect a CartPole run, open its
page in headless Chromium, select a step (through the page's own select()) and take a screenshot.

    python -m benchmarks.explorer_page                         # trains runs/explorer_page first
    python -m benchmarks.explorer_page --run RUN --run-seed 3   # an existing run

Needs Chromium (Debian: apt install chromium) and playwright (pip install playwright).
Writes benchmarks/results/explorer_page.{json,png} and explorer_page_value_maps.png (the
learned and the hand value over the pole's angle and angular velocity).
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from agent.config import load_config, preset
from agent.tools.inspect import inspect_run
from benchmarks.provenance import RESULTS, write_results
from benchmarks.runs import train_or_reuse


@dataclass(frozen=True)
class Args:
    """Screenshot of the objective explorer page of a CartPole run."""

    run: str | None = None
    """Run folder to inspect (default: train the CartPole preset into runs/explorer_page)."""
    run_seed: int | None = None
    """Which seed of a multi-seed run."""
    step: int = 40
    """Step of episode 0 whose search tree the screenshot shows."""
    out_dir: str = str(RESULTS)


def screenshot(page_path: Path, png: Path, step: int) -> dict:
    """Opens the page in headless Chromium, selects `step` of episode 0, saves a screenshot;
    returns what the page showed (tree title, node count)."""
    from playwright.sync_api import (
        sync_playwright,  # optional: only this benchmark and a test need it
    )

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("error: no Chromium on PATH (Debian: apt install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1240, "height": 1500})
        page.goto(page_path.resolve().as_uri())
        page.evaluate(f"select(0, Math.min({step}, D.episodes[0].length - 1))")
        shown = {"tree_title": page.inner_text("#tree-title"), "tree_nodes": page.locator("#tree g.node").count()}
        page.screenshot(path=str(png), full_page=False)
        browser.close()
    return shown


def main(args: Args) -> dict:
    started = time.perf_counter()
    run = Path(args.run) if args.run else Path("runs/explorer_page")
    if args.run is None:
        train_or_reuse(dataclasses.replace(preset("cartpole"), out=str(run)))
    report = inspect_run(run, run_seed=args.run_seed, episodes=4, tree_episodes=1)
    out_dir = Path(args.out_dir)
    shown = screenshot(Path(report["page"]), out_dir / "explorer_page.png", args.step)
    if report["value_map_file"]:
        shutil.copy(report["value_map_file"], out_dir / "explorer_page_value_maps.png")
    result = {"benchmark": "objective explorer page of a CartPole run, screenshot in headless Chromium",
              "run_config": dataclasses.asdict(load_config(run)), "run_seed": args.run_seed,
              "inspect_report": {k: v for k, v in report.items() if k not in ("tree_files", "report_dir", "page",
                                                                                "value_map_file", "run")},
              "page_shown": shown}
    written = write_results(out_dir / "explorer_page.json", result, args, started)
    print(json.dumps(written["page_shown"]))
    return written


if __name__ == "__main__":
    main(tyro.cli(Args))
