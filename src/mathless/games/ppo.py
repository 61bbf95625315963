"""PPO (Proximal Policy Optimization, Schulman et al. 2017), read top to bottom.

The idea in plain words: play a short stretch of every game copy with the current
policy (the network's move probabilities), then nudge the network so moves that
turned out better than expected become more likely - but never by much in one go
(the "clip"), so learning stays steady. Repeat.

Words used below:
- advantage: how much better a move turned out than the network expected;
- value: the network's guess of the score still to come from a position;
- gamma (discount): how much a point scored later counts compared with one now;
- entropy bonus: a small reward for keeping some randomness, so the agent keeps exploring.

The bookkeeping (time budget, progress, checkpoints) lives in ``play.py``; this file
is the algorithm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from mathless.games.environments import GameSteps
from mathless.games.networks import Pace, set_threads


@dataclass
class Settings:
    copies: int = 8  # game copies played side by side
    rollout: int = 128  # moves each copy plays between two learning rounds
    minibatches: int = 4  # each learning round's moves are split into this many batches
    epochs: int = 4  # how many times each batch of moves is learned from
    learning_rate: float = 2.5e-4  # size of each nudge; shrinks over the budget (see LATE_RATE)
    gamma: float = 0.99  # discount: a point 100 moves ahead counts 0.99**100 = 37%
    gae_lambda: float = 0.95  # how far ahead advantages look before trusting the value guess
    clip: float = 0.1  # a move's probability may change by at most 10% per round
    entropy: float = 0.01  # bonus for keeping some randomness
    value_weight: float = 0.5  # how much learning the value guess counts against the policy
    max_grad_norm: float = 0.5  # cap on the size of one nudge
    clip_rewards: bool = True  # learn from the sign of each reward (Atari scores vary wildly)


# The learning rate shrinks in a straight line to this share of its start by the end of
# the budget. CleanRL shrinks it to 0 over 10M moves; an hour here is ~3-4M moves, where
# CleanRL's rate is still ~0.6 of its start. Shrinking to 0 over the hour halved the
# average rate and Pong learned more slowly (bench/RESULTS.md).
LATE_RATE = 0.3


def settings_for(game) -> Settings:
    """Defaults known to work: CleanRL's Atari settings for pictures; RL Zoo's CartPole
    settings for small states (CartPole reaches 500 in well under a minute with them)."""
    if game.pixels:
        return Settings()
    return Settings(copies=8, rollout=32, minibatches=1, epochs=20, learning_rate=1e-3, gamma=0.98,
                    gae_lambda=0.8, clip=0.2, entropy=0.0, clip_rewards=False)


def train(agent, run, seed: int = 0) -> None:
    """Improve ``agent.network`` until ``run`` says the budget is spent."""
    s = Settings(**agent.settings) if agent.settings else settings_for(agent.game)
    agent.settings = asdict(s)
    device = set_threads(agent.network_config)
    envs = GameSteps(agent.game, s.copies, seed=seed + agent.steps, screen=agent.screen)
    network = agent.network.to(device)
    network.train()
    # Picture networks: bfloat16 or float32, and how many threads, chosen by timing (networks.py).
    pace = Pace(network, device) if agent.game.pixels else None
    optimizer = torch.optim.Adam(network.parameters(), lr=s.learning_rate, eps=1e-5)
    if agent.optimizer_state:
        try:
            optimizer.load_state_dict(agent.optimizer_state)
        except (ValueError, KeyError, RuntimeError):
            pass  # a different network shape: start the learning state afresh
    batch_size = s.copies * s.rollout
    minibatch_size = batch_size // s.minibatches
    pixels = agent.game.pixels

    # Storage for one rollout. Pictures stay bytes (4x smaller) until the network sees them.
    observations = torch.zeros((s.rollout, s.copies) + envs.observation_shape,
                               dtype=torch.uint8 if pixels else torch.float32)
    actions = torch.zeros((s.rollout, s.copies), dtype=torch.long)
    log_probs = torch.zeros((s.rollout, s.copies))
    rewards = torch.zeros((s.rollout, s.copies))
    ends = torch.zeros((s.rollout, s.copies))
    values = torch.zeros((s.rollout, s.copies))

    next_observation = torch.as_tensor(envs.reset())
    next_end = torch.zeros(s.copies)
    try:
        while not run.should_stop():
            for group in optimizer.param_groups:
                group["lr"] = s.learning_rate * (1.0 - (1.0 - LATE_RATE) * run.fraction_done())

            # 1. Play: every copy makes `rollout` moves with the current policy.
            if pace is not None:
                pace.for_acting()
            for step in range(s.rollout):
                observations[step] = next_observation
                ends[step] = next_end
                with torch.no_grad():
                    logits, value = network(next_observation.to(device))
                    policy = torch.distributions.Categorical(logits=logits)
                    action = policy.sample()
                actions[step] = action.cpu()
                log_probs[step] = policy.log_prob(action).cpu()
                values[step] = value.cpu()
                observation, reward, end = envs.step(action.cpu().numpy())
                rewards[step] = torch.as_tensor(np.sign(reward) if s.clip_rewards else reward, dtype=torch.float32)
                next_observation = torch.as_tensor(observation)
                next_end = torch.as_tensor(end, dtype=torch.float32)
            run.record(batch_size, envs.take_finished())

            # 2. Advantages (generalized advantage estimation): walk the rollout backwards.
            with torch.no_grad():
                next_value = network(next_observation.to(device))[1].cpu()
            advantages = torch.zeros_like(rewards)
            last = torch.zeros(s.copies)
            for t in reversed(range(s.rollout)):
                following_end = next_end if t == s.rollout - 1 else ends[t + 1]
                following_value = next_value if t == s.rollout - 1 else values[t + 1]
                carry_on = 1.0 - following_end
                surprise = rewards[t] + s.gamma * following_value * carry_on - values[t]
                last = surprise + s.gamma * s.gae_lambda * carry_on * last
                advantages[t] = last
            returns = advantages + values

            # 3. Learn: several passes over the rollout in shuffled minibatches.
            b_observations = observations.reshape((batch_size,) + envs.observation_shape)
            b_actions, b_log_probs = actions.reshape(-1), log_probs.reshape(-1)
            b_advantages, b_returns = advantages.reshape(-1), returns.reshape(-1)
            if pace is not None:
                if pace.due() and pace.check(b_observations[:minibatch_size].to(device), next_observation.to(device)):
                    agent.pace = pace.choice()
                    run.say(pace.words())
                pace.for_learning()
            for _ in range(s.epochs):
                order = torch.randperm(batch_size)
                for start in range(0, batch_size, minibatch_size):
                    index = order[start:start + minibatch_size]
                    # index_select: one block copy per picture (b_observations[index]: 10-20x slower, bench/dqn_step.py)
                    logits, value = network(b_observations.index_select(0, index).to(device))
                    policy = torch.distributions.Categorical(logits=logits)
                    new_log_prob = policy.log_prob(b_actions[index].to(device))
                    ratio = (new_log_prob - b_log_probs[index].to(device)).exp()
                    advantage = b_advantages[index].to(device)
                    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                    policy_loss = torch.max(
                        -advantage * ratio,
                        -advantage * ratio.clamp(1 - s.clip, 1 + s.clip),
                    ).mean()
                    value_loss = 0.5 * ((value - b_returns[index].to(device)) ** 2).mean()
                    loss = policy_loss - s.entropy * policy.entropy().mean() + s.value_weight * value_loss
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(network.parameters(), s.max_grad_norm)
                    optimizer.step()
            agent.optimizer_state = optimizer.state_dict()
    finally:
        agent.optimizer_state = optimizer.state_dict()
        network.fast = False
        network.to("cpu")
        envs.close()
