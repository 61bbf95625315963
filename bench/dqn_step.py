"""Where one DQN learning step on Pong's pictures spends its time, and whether torch.compile helps.

    python bench/dqn_step.py [--threads 2] [--steps 60]

First, picking a learning batch of pictures (bytes) the way dqn.py and ppo.py do it and
the way they used to: 128 out of DQN's full replay memory (200K moves of 8 copies), 256
out of PPO's rollout of 1,024 moves. Then a learning step as dqn.py takes it (a batch of
128 stacked 64x64 frames, float32): the target network's guesses, the network's own, the
backward pass and Adam's update, timed part by part for each picture body; then the
whole step again with both networks passed through torch.compile. Prints milliseconds;
nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from mathless.games.dqn import Settings
from mathless.games.networks import PICTURE_BODIES, describe, q_network

BATCH, ACTIONS = 128, 6


def networks(body: str):
    torch.manual_seed(0)
    config = describe((4, 64, 64), ACTIONS, "dqn")
    config["body"] = body
    network = q_network(config)
    optimizer = torch.optim.Adam(network.parameters(), lr=Settings().learning_rate, eps=1.5e-4, fused=True)  # as dqn.py
    return network, copy.deepcopy(network), optimizer


def batch():
    """Pictures as the replay memory hands them over: bytes, laid out pixel by pixel."""
    pictures, later = (torch.randint(0, 256, (BATCH, 64, 64, 4), dtype=torch.uint8).permute(0, 3, 1, 2)
                       for _ in range(2))
    return pictures, later, torch.randint(0, ACTIONS, (BATCH,)), torch.randn(BATCH)


def picking_ms(steps: int) -> dict[str, float]:
    """Milliseconds to pick a learning batch of pictures (bytes), the way the algorithms do it
    now (index_select: one block copy per picture) and the way they used to (fancy indexing)."""
    slots, copies = 200_000 // 8, 8  # DQN: a full replay memory, 128 moves from anywhere in it
    seen = torch.full((slots, copies, 64, 64, 4), 7, dtype=torch.uint8)  # written, so its pages are real
    rows, copy_index = torch.randint(0, slots, (steps, BATCH)), torch.randint(0, copies, (steps, BATCH))
    rollout = torch.randint(0, 256, (1024, 4, 64, 64), dtype=torch.uint8)  # PPO: 256 of a 1,024-move rollout
    minibatches = [torch.randperm(1024)[:256] for _ in range(steps)]
    ways = {
        "DQN, index_select": lambda i: seen.flatten(0, 1).index_select(0, rows[i] * copies + copy_index[i]),
        "DQN, seen[rows, copies]": lambda i: seen[rows[i], copy_index[i]],
        "PPO, index_select": lambda i: rollout.index_select(0, minibatches[i]),
        "PPO, rollout[index]": lambda i: rollout[minibatches[i]],
    }
    timings = {}
    for name, pick in ways.items():
        pick(0)  # the first call sets things up: not timed
        start = time.perf_counter()
        for i in range(steps):
            pick(i)
        timings[name] = 1000 * (time.perf_counter() - start) / steps
    return timings


def timed_step(network, target_network, optimizer, data) -> list[float]:
    """One learning step; seconds spent in each of its four parts."""
    pictures, later, moves, rewards = data
    marks = [time.perf_counter()]
    with torch.no_grad():
        best_later = target_network(later).max(dim=1).values
    marks.append(time.perf_counter())
    guess = network(pictures).gather(1, moves[:, None]).squeeze(1)
    loss = F.smooth_l1_loss(guess, rewards + 0.99**3 * best_later)
    marks.append(time.perf_counter())
    optimizer.zero_grad()
    loss.backward()
    marks.append(time.perf_counter())
    optimizer.step()
    marks.append(time.perf_counter())
    return [after - before for before, after in zip(marks, marks[1:])]


def milliseconds(network, target_network, optimizer, steps: int) -> list[float]:
    data = batch()
    for _ in range(10):  # warm-up (and, for compiled networks, compilation)
        timed_step(network, target_network, optimizer, data)
    parts = [timed_step(network, target_network, optimizer, data) for _ in range(steps)]
    return [1000 * sum(column) / steps for column in zip(*parts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    if args.threads < 1 or args.steps < 1:
        parser.error("--threads and --steps must be 1 or more")  # exits with status 2
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {BATCH}")
    print("milliseconds to pick a learning batch: " + ", ".join(
        f"{name} {ms:.2f}" for name, ms in picking_ms(args.steps).items()))
    print("milliseconds per learning step, float32:")
    print("| body | target guesses | own guesses | backward | Adam | whole step | whole step, torch.compile |")
    print("|---|---|---|---|---|---|---|")
    for body in PICTURE_BODIES:
        parts = milliseconds(*networks(body), args.steps)
        network, target_network, optimizer = networks(body)
        compiled = milliseconds(torch.compile(network), torch.compile(target_network), optimizer, args.steps)
        cells = [f"{ms:.1f}" for ms in parts] + [f"{sum(parts):.1f}", f"{sum(compiled):.1f}"]
        print(f"| {body} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
