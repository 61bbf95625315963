"""Games: train agents that play Atari (ale-py) and Gymnasium games.

- catalog.py: which games exist and their published reference scores
- environments.py: the Atari recipe (frame skip, grayscale, frame stack ...), in one place
- networks.py: the small networks the agents use
- ppo.py, dqn.py: one learning algorithm each, readable top to bottom
- play.py: budget, progress, checkpoints and resume around an algorithm
- agent.py: a trained agent - evaluate, watch, save, load
- doctor.py, report.py, explain.py: what went wrong in training, the report, why this move
"""

import os as _os
import sys as _sys

# PyTorch's CPU threads (OpenMP) spin while they wait for work by default. With anything
# else running on a 2-core machine - the game emulators' own threads, a browser - that
# spinning made every network call up to 30x slower in our measurements. Waiting
# passively costs nothing measurable when the machine is idle. It must be set before
# torch loads; if torch is already loaded, networks.set_threads falls back to one thread.
TORCH_LOADED_FIRST = "torch" in _sys.modules and _os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# pygame (which Gymnasium draws its small games with) greets on standard output when it
# loads; that would spoil `--json` output.
_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
