"""The time budget for training, shown as a live bar with the time left.

Every learner gets a slice of what is left; the bar moves with the clock, so
the user sees that training will end when promised.
"""

from __future__ import annotations

import time


class Budget:
    def __init__(self, seconds: float, quiet: bool = False):
        self.seconds = float(seconds)
        self.start = time.monotonic()
        self.deadline = self.start + self.seconds
        self.stage_end = self.deadline
        self.label = "starting"
        self.quiet = quiet
        self._live = None
        self._printed = ""

    def left(self) -> float:
        """Seconds left for the current stage (training ends early to leave time for the checks)."""
        return max(0.0, min(self.deadline, self.stage_end) - time.monotonic())

    def stage(self, share_of_total: float) -> None:
        """The next stage may use up to ``share_of_total`` of the whole budget from the start."""
        self.stage_end = self.start + self.seconds * share_of_total

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def slice(self, share: float) -> float:
        """A deadline ``share`` of the remaining time from now."""
        return time.monotonic() + self.left() * share

    def step(self, label: str, detail: str = "") -> None:
        """Say what is being trained; without a live bar, print each new label once."""
        if self._live is None and not self.quiet and label != self._printed:
            self._printed = label
            import sys

            print(f"[{self.elapsed():5.1f} s] training {label}", file=sys.stderr, flush=True)
        self.label = f"{label} ({detail})" if detail else label

    def _render(self):
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        grid = Table.grid(padding=(0, 1))
        grid.add_row(
            f"Training: {self.label}",
            ProgressBar(total=self.seconds, completed=min(self.elapsed(), self.seconds), width=30),
            f"{max(0.0, self.deadline - time.monotonic()):.0f} s left",
        )
        return grid

    def __enter__(self):
        if not self.quiet:
            from rich.console import Console
            from rich.live import Live

            console = Console(stderr=True)
            if console.is_terminal:
                self._live = Live(get_renderable=self._render, console=console, refresh_per_second=4, transient=True)
                self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
        return False
