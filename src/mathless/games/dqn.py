"""DQN (Deep Q-Network, Mnih et al. 2015), read top to bottom.

The idea in plain words: the network guesses, for every move, the score still to
come if it makes that move now and plays well afterwards (the move's "Q-value").
The agent mostly makes the move with the best guess, sometimes a random one to
explore. Every move it makes is kept in a replay memory; the network learns from
random handfuls of old moves, nudging each guess towards
"reward now + gamma x best guess for the next position". The guesses for the next
position come from a copy of the network that is refreshed only now and then (the
"target network"), which keeps the learning from chasing its own tail.

PPO (ppo.py) is the default: on a laptop CPU it learns Atari games faster per minute.
DQN is here because it is the algorithm of the human-level paper, and it reuses old
experience, which helps when playing is slow.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mathless.games.environments import GameSteps
from mathless.games.networks import set_threads


@dataclass
class Settings:
    copies: int = 4  # game copies played side by side; one learning step per move of all copies
    memory: int = 50_000  # moves kept in the replay memory
    batch: int = 32  # moves learned from in each learning step
    learning_rate: float = 1e-4
    gamma: float = 0.99  # discount: a point 100 moves ahead counts 0.99**100 = 37%
    target_every: int = 1_000  # learning steps between refreshes of the target network
    learning_starts: int = 10_000  # moves of pure exploration before learning begins
    explore_start: float = 1.0  # share of random moves at first ...
    explore_end: float = 0.01  # ... and at the end
    explore_fraction: float = 0.1  # share of the budget spent lowering it
    clip_rewards: bool = True  # learn from the sign of each reward (Atari scores vary wildly)


def settings_for(game) -> Settings:
    """CleanRL's DQN settings, scaled to minutes-long budgets."""
    if game.pixels:
        return Settings()
    return Settings(memory=10_000, batch=128, learning_rate=2.5e-4, target_every=125, learning_starts=1_000,
                    explore_end=0.05, explore_fraction=0.5, clip_rewards=False)


def train(agent, run, seed: int = 0) -> None:
    """Improve ``agent.network`` until ``run`` says the budget is spent."""
    s = Settings(**agent.settings) if agent.settings else settings_for(agent.game)
    agent.settings = asdict(s)
    device = set_threads(agent.network_config)
    rng = np.random.default_rng(seed + agent.steps)
    envs = GameSteps(agent.game, s.copies, seed=seed + agent.steps, screen=agent.screen)
    q_network = agent.network.to(device)
    q_network.train()
    target_network = copy.deepcopy(q_network)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=s.learning_rate)
    if agent.optimizer_state:
        try:
            optimizer.load_state_dict(agent.optimizer_state)
        except (ValueError, KeyError, RuntimeError):
            pass

    # The replay memory: a ring of the last `memory` moves. Pictures stay bytes.
    dtype = np.uint8 if agent.game.pixels else np.float32
    shape = envs.observation_shape
    memory_observations = np.zeros((s.memory,) + shape, dtype=dtype)
    memory_next = np.zeros((s.memory,) + shape, dtype=dtype)
    memory_actions = np.zeros(s.memory, dtype=np.int64)
    memory_rewards = np.zeros(s.memory, dtype=np.float32)
    memory_ends = np.zeros(s.memory, dtype=np.float32)
    stored, position, learning_steps = 0, 0, 0
    resumed = agent.steps > 0  # a resumed agent refills its memory but need not explore from scratch

    observation = envs.reset()
    try:
        while not run.should_stop():
            # 1. Act: mostly the best-looking move, sometimes a random one.
            fraction = run.fraction_done() / s.explore_fraction
            explore = s.explore_end if resumed else max(
                s.explore_end, s.explore_start + (s.explore_end - s.explore_start) * min(1.0, fraction))
            with torch.no_grad():
                q_values = q_network(torch.as_tensor(observation, device=device).to(
                    torch.uint8 if agent.game.pixels else torch.float32))
            actions = q_values.argmax(dim=1).cpu().numpy()
            random_moves = rng.random(s.copies) < explore
            actions[random_moves] = rng.integers(0, envs.actions, int(random_moves.sum()))
            next_observation, reward, end = envs.step(actions)

            # 2. Remember every copy's move.
            for i in range(s.copies):
                memory_observations[position] = observation[i]
                memory_next[position] = next_observation[i]
                memory_actions[position] = actions[i]
                memory_rewards[position] = np.sign(reward[i]) if s.clip_rewards else reward[i]
                memory_ends[position] = end[i]
                position = (position + 1) % s.memory
                stored = min(stored + 1, s.memory)
            observation = next_observation
            run.record(s.copies, envs.take_finished())

            # 3. Learn from a random handful of remembered moves.
            if stored < min(s.learning_starts, s.memory):
                continue
            index = rng.integers(0, stored, s.batch)
            as_tensor = lambda array: torch.as_tensor(array[index], device=device)  # noqa: E731
            with torch.no_grad():
                best_next = target_network(as_tensor(memory_next)).max(dim=1).values
                target = as_tensor(memory_rewards) + s.gamma * best_next * (1.0 - as_tensor(memory_ends))
            guess = q_network(as_tensor(memory_observations)).gather(1, as_tensor(memory_actions)[:, None]).squeeze(1)
            loss = F.smooth_l1_loss(guess, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            learning_steps += 1
            if learning_steps % s.target_every == 0:
                target_network.load_state_dict(q_network.state_dict())
    finally:
        agent.optimizer_state = optimizer.state_dict()
        q_network.to("cpu")
        envs.close()
