"""Which vectorised Atari environment is faster here: ale-py's AtariVectorEnv or EnvPool?

    pip install envpool      # not a mathless dependency; only this comparison needs it
    python bench/vector_envs.py [--seconds 20] [--rounds 2]

Both step 8 copies of Pong on 2 threads with random moves (no network) and the recipe
mathless trains with: frame skip 4 with max-pooling over the last two frames, up to 30
no-op starts, FIRE on reset, 64x64 grayscale, a stack of 4, no sticky actions, real
rewards, a game ends only when it is over. The two take turns (A B A B ...) so a
machine that slows down mid-run slows both. Writes the "vector-envs" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

COPIES, THREADS, SCREEN, STACK = 8, 2, 64, 4


def ale_py_envs():
    from mathless.games.catalog import find_game
    from mathless.games.environments import make_atari

    envs = make_atari(find_game("Pong"), COPIES, seed=0, threads=THREADS, screen=(SCREEN, SCREEN), stack=STACK)
    envs.reset(seed=0)
    return envs


def envpool_envs():
    import envpool

    envs = envpool.make_gymnasium(
        "Pong-v5", num_envs=COPIES, batch_size=COPIES, num_threads=THREADS, seed=0,
        frame_skip=4, noop_max=30, use_fire_reset=True, img_height=SCREEN, img_width=SCREEN,
        gray_scale=True, stack_num=STACK, episodic_life=False, reward_clip=False,
        repeat_action_probability=0.0,
    )
    envs.reset()
    return envs


def steps_per_second(envs, seconds: float) -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        observations, *_ = envs.step(rng.integers(0, 6, COPIES))
        steps += COPIES
    assert observations.shape[-3:] == (STACK, SCREEN, SCREEN), observations.shape  # the same pictures from both
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each timed stretch")
    parser.add_argument("--rounds", type=int, default=2, help="how many times each one is timed")
    args = parser.parse_args()
    try:
        import envpool
    except ImportError:
        raise SystemExit("EnvPool is not installed: `pip install envpool` first (it is only needed here).")

    from results import command_line, stamp, write_section

    makers = {"ale-py AtariVectorEnv": ale_py_envs, f"EnvPool {envpool.__version__}": envpool_envs}
    timings = {name: [] for name in makers}
    for _ in range(args.rounds):
        for name, make in makers.items():
            envs = make()
            timings[name].append(steps_per_second(envs, args.seconds))
            envs.close()
            print(f"{name}: {timings[name][-1]:,.0f} agent steps/s", flush=True)

    import ale_py

    best = max(timings, key=lambda name: max(timings[name]))
    other = next(name for name in timings if name != best)
    lines = [
        "## Games: vectorised Atari environments, ale-py vs EnvPool",
        "",
        stamp(command_line()).rstrip(),
        f"- ale-py {ale_py.__version__}",
        "",
        f"Pong, {COPIES} copies on {THREADS} threads, random moves, no network; frame skip 4 with max-pool, "
        f"30 no-op starts, FIRE on reset, {SCREEN}x{SCREEN} gray, stack {STACK}, no sticky actions. "
        f"Agent steps per second, each timed {args.rounds}x for {args.seconds:g} s, taking turns:",
        "",
        "| environment | agent steps/s (each stretch) | best |",
        "|---|---|---|",
    ]
    for name, values in timings.items():
        lines.append(f"| {name} | {', '.join(f'{v:,.0f}' for v in values)} | {max(values):,.0f} |")
    lines += ["", f"Faster here: {best}, {max(timings[best]) / max(timings[other]):.2f}x the best stretch of {other}. "
              "mathless uses ale-py's (it ships with ale-py, which Gymnasium's Atari games need anyway). "
              "The stretches vary by up to 40% on this machine, so take the ratio as rough; the whole training loop "
              "runs at about a tenth of either (the pong section), so the environment is not what limits training."]
    write_section("vector-envs", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
