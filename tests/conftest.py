"""Shared helpers: run the real CLI in a subprocess, and write real data sets to files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MATHLESS = Path(sys.executable).with_name("mathless")


def pytest_configure(config):
    """Under pytest-xdist (`make test`), give each test process cores of its own.

    Every process sizes its threads (PyTorch, the game emulators) by the cores it may use,
    and the programs it starts inherit that: without this, two processes on a 2-core
    machine would each run two threads and wait on each other's.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... only in a test process
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker or workers < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= workers:
        os.sched_setaffinity(0, cpus[int(worker.removeprefix("gw")) :: workers])


def run_cli(*args, cwd=None, timeout=600):
    """Run the installed `mathless` console script; return the CompletedProcess."""
    env = dict(os.environ, COLUMNS="120", PYTHONWARNINGS="ignore")
    return subprocess.run(
        [str(MATHLESS), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def screenshot_in_chromium(page: Path, folder: Path, size=(1200, 2600)):
    """Open ``page`` in headless Chromium; return (the screenshot as an RGB array, console errors)."""
    import shutil

    import numpy as np
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for this test (the Makefile installs it)"
    shot = folder / f"{page.stem}.png"
    browser = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={folder / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         f"--window-size={size[0]},{size[1]}", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.exists(), browser.stderr[-2000:]
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return np.asarray(Image.open(shot).convert("RGB")).astype(int), console


def assert_user_error(result, *fragments):
    """Exit status 2, a plain message naming the fragments, and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr.lower()
    for fragment in fragments:
        assert fragment.lower() in message, (fragment, result.stderr)


@pytest.fixture(scope="session")
def penguins_csv(tmp_path_factory):
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    folder = tmp_path_factory.mktemp("penguins")
    train = frame.sample(frac=0.8, random_state=1)
    holdout = frame.drop(train.index)
    train.to_csv(folder / "train.csv", index=False)
    holdout.to_csv(folder / "holdout.csv", index=False)
    holdout.drop(columns=["species"]).to_csv(folder / "new.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def penguin_model(penguins_csv, tmp_path_factory):
    """A model trained once through the CLI, shared by the predict/evaluate/info tests."""
    out = tmp_path_factory.mktemp("models") / "penguin-model"
    # 10 s: on a slow 2-core machine loading PyTorch alone took 4-8 s of a budget
    result = run_cli("fit", penguins_csv / "train.csv", "--target", "species", "--time", "10", "--out", out)
    assert result.returncode == 0, result.stderr
    return out
