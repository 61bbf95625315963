"""DQN (Deep Q-Network, Mnih et al. 2015), read top to bottom.

The idea in plain words: the network guesses, for every move, the score still to
come if it makes that move now and plays well afterwards (the move's "Q-value").
The agent mostly makes the move with the best guess, sometimes a random one to
explore. Every move it makes is kept in a replay memory; the network learns from
random handfuls of old moves, nudging each guess towards
"the next few rewards + gamma^n x best guess for the position n moves later"
(n-step returns, from Rainbow, Hessel et al. 2018: a point scored reaches the guesses
n times sooner than with one step). The guesses for the later position come from a
copy of the network that is refreshed only now and then (the "target network"), which
keeps the learning from chasing its own tail.

DQN is the default for Atari games (PPO, ppo.py, for small games): it reuses old
experience, which helps when playing is slow, and it is the one that reached Pong's
+18 within the hour on 2 CPU cores (bench/RESULTS.md). It is also the algorithm of
the human-level paper.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mathless.games.environments import GameSteps
from mathless.games.networks import bfloat16_ready, set_threads


@dataclass
class Settings:
    copies: int = 8  # game copies played side by side
    memory: int = 200_000  # moves kept in the replay memory
    batch: int = 128  # moves learned from in each learning step
    learn_every: int = 2  # rounds of play (one move of every copy) between two learning steps
    n_step: int = 3  # rewards added up before trusting the target network's guess
    learning_rate: float = 5e-4  # Adam's; twice the classic 2.5e-4 (with the small network; bench/RESULTS.md)
    gamma: float = 0.99  # discount: a point 100 moves ahead counts 0.99**100 = 37%
    target_every: int = 500  # learning steps between refreshes of the target network
    learning_starts: int = 10_000  # moves of pure exploration before learning begins
    explore_start: float = 1.0  # share of random moves at first ...
    explore_end: float = 0.01  # ... and at the end
    explore_moves: int = 200_000  # moves spent lowering it (or explore_fraction of the budget, if sooner)
    explore_fraction: float = 0.25
    clip_rewards: bool = True  # learn from the sign of each reward (Atari scores vary wildly)


def settings_for(game) -> Settings:
    """Pictures: Rainbow's n-step returns on a DQN sized for minutes-long budgets on a CPU
    (the small network, batches of 128, learning from 8 moves per move played, twice the
    classic learning rate; bench/RESULTS.md).
    Small states: CleanRL's CartPole settings."""
    if game.pixels:
        return Settings()
    return Settings(copies=4, memory=10_000, batch=128, learn_every=1, n_step=1, learning_rate=2.5e-4,
                    target_every=125, learning_starts=1_000, explore_end=0.05, explore_moves=10**9,
                    explore_fraction=0.5, clip_rewards=False)


def n_step_returns(rewards, ends, start, copy_index, n: int, gamma: float):
    """For the moves at memory rows ``start`` of copies ``copy_index``: the discounted sum of
    the n rewards from each move on, stopping where its episode ended (the reward of the
    move that ended it still counts), and 1.0 where no episode ended within those n
    moves - only then does the guess for the position n moves later count - else 0.0.
    Rows wrap around: the memory is a ring."""
    later = (start[:, None] + torch.arange(n)) % rewards.shape[0]  # the n rows from each move on
    who = copy_index[:, None]
    still_playing = torch.cumprod(1.0 - ends[later, who], dim=1)
    counted = torch.cat([torch.ones(len(start), 1), still_playing[:, :-1]], dim=1)
    discounts = gamma ** torch.arange(n, dtype=torch.float32)
    return (rewards[later, who] * counted * discounts).sum(dim=1), still_playing[:, -1]


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
    try:  # one fused step for all weights: a round of play and learning took 15.4 ms instead of 19.0
        optimizer = torch.optim.Adam(q_network.parameters(), lr=s.learning_rate, eps=1.5e-4, fused=True)
    except (RuntimeError, TypeError):  # an older torch, or a device without it
        optimizer = torch.optim.Adam(q_network.parameters(), lr=s.learning_rate, eps=1.5e-4)
    if agent.optimizer_state:
        try:
            optimizer.load_state_dict(agent.optimizer_state)
        except (ValueError, KeyError, RuntimeError):
            pass
    # Pictures: the convolutions in bfloat16 where the chip has it (the guesses stay float32).
    fast = agent.game.pixels and bfloat16_ready(device)

    def guesses(network, observations):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            return network(observations.to(device)).float()

    # The replay memory: the last `slots` rounds of play of every copy, oldest overwritten
    # first. Pictures stay bytes. Row t holds what each copy saw, did and got at round t,
    # and whether its episode ended there, so the n-step target of a move can be read off
    # the rows after it. Pictures are kept pixel by pixel (the 4 stacked frames side by
    # side), the layout the convolutions want, so a handful needs no rearranging.
    slots = s.memory // s.copies
    pixels = agent.game.pixels
    shape = envs.observation_shape
    seen = torch.empty((slots, s.copies) + ((shape[1], shape[2], shape[0]) if pixels else shape),
                       dtype=torch.uint8 if pixels else torch.float32)

    def remembered(rows, copies):
        # One block copy per move, picked from the memory seen as one long list of moves:
        # seen[rows, copies] gives the same, 10-20x slower (bench/dqn_step.py).
        found = seen.flatten(0, 1).index_select(0, rows * s.copies + copies)
        return found.permute(0, 3, 1, 2) if pixels else found

    moves = torch.zeros((slots, s.copies), dtype=torch.long)
    rewards = torch.zeros((slots, s.copies))
    ends = torch.zeros((slots, s.copies))
    row, filled, rounds, learning_steps, moves_done = 0, 0, 0, 0, 0
    resumed = agent.steps > 0  # a resumed agent refills its memory but need not explore from scratch

    observation = torch.as_tensor(envs.reset())
    try:
        while not run.should_stop():
            # 1. Act: mostly the best-looking move, sometimes a random one.
            progress = max(moves_done / s.explore_moves, run.fraction_done() / s.explore_fraction)
            explore = s.explore_end if resumed else max(
                s.explore_end, s.explore_start + (s.explore_end - s.explore_start) * min(1.0, progress))
            with torch.no_grad():
                actions = guesses(q_network, observation).argmax(dim=1).cpu().numpy()
            random_moves = rng.random(s.copies) < explore
            actions[random_moves] = rng.integers(0, envs.actions, int(random_moves.sum()))
            next_observation, reward, end = envs.step(actions)

            # 2. Remember the round.
            seen[row] = observation.permute(0, 2, 3, 1) if pixels else observation
            moves[row] = torch.as_tensor(actions)
            rewards[row] = torch.as_tensor(np.sign(reward) if s.clip_rewards else reward, dtype=torch.float32)
            ends[row] = torch.as_tensor(end, dtype=torch.float32)
            row, filled, rounds = (row + 1) % slots, min(filled + 1, slots), rounds + 1
            moves_done += s.copies
            observation = torch.as_tensor(next_observation)
            run.record(s.copies, envs.take_finished())

            # 3. Learn from a random handful of remembered moves.
            if moves_done < s.learning_starts or rounds % s.learn_every or filled <= s.n_step:
                continue
            # A move is usable once the n rounds after it are remembered: pick how far back it is.
            back = torch.as_tensor(rng.integers(s.n_step + 1, filled + 1, s.batch))
            start = (row - back) % slots
            copy_index = torch.as_tensor(rng.integers(0, s.copies, s.batch))
            n_step_reward, still_playing = n_step_returns(rewards, ends, start, copy_index, s.n_step, s.gamma)
            then = (start + s.n_step) % slots
            with torch.no_grad():
                best_then = guesses(target_network, remembered(then, copy_index)).max(dim=1).values.cpu()
            target = n_step_reward + s.gamma ** s.n_step * still_playing * best_then
            guess = guesses(q_network, remembered(start, copy_index)).gather(
                1, moves[start, copy_index].to(device)[:, None]).squeeze(1)
            loss = F.smooth_l1_loss(guess, target.to(device))
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
