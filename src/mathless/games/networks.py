"""The networks the agents use, small enough to be fast on a laptop CPU.

- Pictures (Atari): two convolution layers and one dense layer. On 2 CPU cores this
  costs ~1/7 of the classic DQN network per picture, which is what lets an agent see
  millions of frames in an hour.
- A short list of numbers (CartPole ...): two dense layers of 64.

A network is described by a small dict (stored in the run folder's manifest), so a
saved agent can be rebuilt without running any code from the folder.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def describe(observation_shape, actions: int) -> dict:
    kind = "pixels" if len(observation_shape) == 3 else "numbers"
    return {"kind": kind, "input": [int(s) for s in observation_shape], "actions": int(actions)}


def layer_init(layer, std=np.sqrt(2), bias=0.0):
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Scale(nn.Module):
    """Pixels arrive as 0-255 bytes; the network wants numbers near 0-1."""

    def forward(self, x):
        return x.float() * (1 / 255.0)


def body(config: dict):
    """What turns an observation into features; returns (module, feature size)."""
    if config["kind"] == "pixels":
        channels, height, width = config["input"]
        convs = nn.Sequential(
            layer_init(nn.Conv2d(channels, 16, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(16, 32, 4, stride=2)), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = convs(torch.zeros(1, channels, height, width)).shape[1]
        return nn.Sequential(Scale(), convs, layer_init(nn.Linear(flat, 256)), nn.ReLU()), 256
    size = int(np.prod(config["input"]))
    return nn.Sequential(
        layer_init(nn.Linear(size, 64)), nn.Tanh(),
        layer_init(nn.Linear(64, 64)), nn.Tanh(),
    ), 64


class ActorCritic(nn.Module):
    """PPO's network: which move to make (actor) and how good the position is (critic).

    On pictures both heads share one body; on small states each gets its own (CleanRL's
    choice, it learns more steadily there).
    """

    def __init__(self, config: dict):
        super().__init__()
        self.shared = config["kind"] == "pixels"
        self.body, features = body(config)
        if not self.shared:
            self.critic_body, _ = body(config)
        self.actor = layer_init(nn.Linear(features, config["actions"]), std=0.01)
        self.critic = layer_init(nn.Linear(features, 1), std=1.0)

    def forward(self, x):
        features = self.body(x)
        critic_features = features if self.shared else self.critic_body(x)
        return self.actor(features), self.critic(critic_features).squeeze(-1)


def q_network(config: dict) -> nn.Module:
    """DQN's network: one body, one estimated future score per move."""
    features_body, features = body(config)
    return nn.Sequential(features_body, layer_init(nn.Linear(features, config["actions"]), std=1.0))


def build(algorithm: str, config: dict) -> nn.Module:
    return ActorCritic(config) if algorithm == "ppo" else q_network(config)


def set_threads(config: dict) -> torch.device:
    """Use the GPU when there is one; otherwise choose how many CPU threads torch uses.

    Picture networks get one thread per core: the environments' threads sit idle while
    the network runs (and the other way round). Tiny networks get one thread, since
    splitting a 64-wide layer costs more than it saves. (See games/__init__.py for why
    torch's threads must wait passively.)
    """
    from mathless.games import TORCH_LOADED_FIRST
    from mathless.games.environments import cores

    if torch.cuda.is_available():
        return torch.device("cuda")
    wide = config["kind"] == "pixels" and not TORCH_LOADED_FIRST
    torch.set_num_threads(cores() if wide else 1)
    return torch.device("cpu")
