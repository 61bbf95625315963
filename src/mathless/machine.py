"""What the machine lets this process use."""

from __future__ import annotations

import os


def cores() -> int:
    """The cores this process may run on: a container or `taskset` can allow fewer than the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)
