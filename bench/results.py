"""Shared by the bench scripts: each writes its own section of bench/RESULTS.md.

A section lives between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` so
that running one benchmark never erases another's figures.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = "# Benchmark results\n\nEach section is written by the script it names; rerun that script to refresh it.\n"


def cpu() -> str:
    """The processor and the widest vector instructions it has: machines of the same kind here
    differ (one with AVX-512 BF16 ran the Pong network 3x faster than one with AVX2 only)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown processor"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    widest = next((label for flag, label in (("avx512_bf16", "AVX-512 with BF16"), ("avx512f", "AVX-512"),
                                             ("avx2", "AVX2")) if flag in flags), "no AVX2")
    return f"{name or 'unknown processor'} ({widest})"


def machine() -> str:
    """One line describing where the figures came from."""
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        memory = ""
    return (
        f"{platform.machine()}, {cpu()}, {os.cpu_count()} cores{memory}, {platform.system()}, "
        f"Python {platform.python_version()}"
    )


def stamp(command: str) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"- command: `{command}`\n- machine: {machine()}\n- date: {now}\n"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section called ``name`` in bench/RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def sb3_episode_log(path: Path, minutes: float, until: float | None = None, resume: bool = False,
                    save=None, save_every: float = 10.0):
    """An SB3 callback that writes every finished game (minutes, agent steps, score) to a CSV and stops
    training after ``minutes`` of wall-clock, or sooner once the mean of the last 100 games reaches
    ``until`` (as `mathless play --until-score` does). With ``resume`` it appends to the CSV of an earlier
    sitting: its clock goes on from that sitting's last game (the minute or less the sitting trained after
    it is not counted, which can only flatter SB3) and its games count towards the mean.
    ``save`` (called with no arguments) runs every ``save_every`` minutes and when training ends."""
    import csv
    import time

    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeLog(BaseCallback):
        def _on_training_start(self):
            self.scores, self.offset = [], 0.0
            if resume:
                with open(path, newline="") as handle:
                    rows = list(csv.DictReader(handle))
                self.scores = [float(row["score"]) for row in rows]
                self.offset = float(rows[-1]["minutes"]) if rows else 0.0
            self.start = self.saved = time.monotonic()
            self.handle = open(path, "a" if resume else "w", newline="")
            self.writer = csv.writer(self.handle)
            if not resume:
                self.writer.writerow(["minutes", "agent_steps", "score"])

        def _on_step(self):
            now = time.monotonic()
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.writer.writerow([f"{self.offset + (now - self.start) / 60:.4f}", self.num_timesteps,
                                          info["episode"]["r"]])
                    self.handle.flush()
                    self.scores.append(info["episode"]["r"])
            if save is not None and now - self.saved > save_every * 60:
                save()
                self.saved = time.monotonic()
            if until is not None and len(self.scores) >= 100 and sum(self.scores[-100:]) / 100 >= until:
                return False
            return now - self.start < minutes * 60

        def _on_training_end(self):
            self.handle.close()
            if save is not None:
                save()

    return EpisodeLog()


def command_line() -> str:
    return "python " + " ".join(sys.argv)
