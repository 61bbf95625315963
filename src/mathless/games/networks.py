"""The networks the agents use, small enough to be fast on a laptop CPU.

- Pictures (Atari), on 64x64 pictures instead of 84x84 (about half the compute on a CPU):
  - DQN: a two-convolution network ("small": 16 and 32 filters, then 256 neurons). Its
    learning step is 2.3-2.4x faster on an AVX2 CPU than the classic one's; with twice the
    classic learning rate it learned Pong about as fast per move (1.04M and 1.37M moves
    to +18 in runs 19-20, 0.90-1.40M in runs 5-7 with the classic one), so it gets there
    sooner (bench/RESULTS.md).
  - PPO: the classic DQN network ("nature", Mnih et al. 2015: convolutions of 32, 64 and
    64 filters, then 512 neurons); with PPO the small one learned Pong far more slowly
    per game (run 1).
  Agents saved with either keep theirs.
- A short list of numbers (CartPole ...): two dense layers of 64.

A network is described by a small dict (stored in the run folder's manifest), so a
saved agent can be rebuilt without running any code from the folder.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn


# Picture bodies: (filters, window, stride) per convolution, then the dense layer's size.
PICTURE_BODIES = {
    "nature": ([(32, 8, 4), (64, 4, 2), (64, 3, 1)], 512),
    "small": ([(16, 8, 4), (32, 4, 2)], 256),
}


def describe(observation_shape, actions: int, algorithm: str) -> dict:
    """The network a new agent of ``algorithm`` ("dqn" or "ppo") gets for these observations."""
    config = {"kind": "pixels" if len(observation_shape) == 3 else "numbers",
              "input": [int(s) for s in observation_shape], "actions": int(actions)}
    if config["kind"] == "pixels":
        config["body"] = "small" if algorithm == "dqn" else "nature"
    return config


def layer_init(layer, std=np.sqrt(2), bias=0.0):
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Scale(nn.Module):
    """Pixels arrive as 0-255 bytes; the network wants numbers near 0-1.

    The pictures are also laid out "channels last" (pixel by pixel, its 4 stacked frames
    side by side), the layout the CPU's convolution code is fastest with: learning ran
    1.6x faster on 2 cores than with the default layout (measured 2026-11-25).
    """

    def forward(self, x):
        # Rearranged while still bytes, then made numbers once, in the precision the
        # convolutions will use (a profile of Pong training found 18% of its time here
        # when this step converted and copied three times).
        x = x.contiguous(memory_format=torch.channels_last)
        kind = x.device.type
        dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else torch.float32
        return x.to(dtype, copy=True).mul_(1 / 255.0)  # a copy: never scale the caller's tensor


def body(config: dict):
    """What turns an observation into features; returns (module, feature size)."""
    if config["kind"] == "pixels":
        channels, height, width = config["input"]
        layout, features = PICTURE_BODIES[config.get("body", "small")]  # saved before "body" existed: small
        layers = []
        for filters, window, stride in layout:
            layers += [layer_init(nn.Conv2d(channels, filters, window, stride=stride)), nn.ReLU()]
            channels = filters
        convs = nn.Sequential(*layers, nn.Flatten()).to(memory_format=torch.channels_last)
        with torch.no_grad():
            flat = convs(torch.zeros(1, config["input"][0], height, width)).shape[1]
        return nn.Sequential(Scale(), convs, layer_init(nn.Linear(flat, features)), nn.ReLU()), features
    size = int(np.prod(config["input"]))
    return nn.Sequential(
        layer_init(nn.Linear(size, 64)), nn.Tanh(),
        layer_init(nn.Linear(64, 64)), nn.Tanh(),
    ), 64


def bfloat16_ready(device: torch.device) -> bool:
    """Whether this chip works natively in bfloat16 (16-bit numbers with float32's range).

    Where it does not, bfloat16 would be emulated, so it is never tried. Where it does, it
    is not always faster on a CPU: ``Pace`` times both.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


PACE_CHECK_SECONDS = 300  # what else runs on the machine can change: time the choices again this often


class Pace:
    """The fastest way to run a picture network on this machine right now, found by timing it.

    Two choices, neither of which wins everywhere (measured on 2-core machines of one kind,
    bench/RESULTS.md):
    - bfloat16 or float32 for the picture body (bfloat16 only where the chip has it). One day
      bfloat16 learned 1.7-3.1x faster; the day before, on the same kind of machine, 20% slower.
    - one torch thread per core, or one. Two threads usually help learning a little; on 8
      pictures (choosing moves) one thread was twice as fast; and while another program keeps
      both cores busy, a learning step took 6.6 s on two threads against 0.03 s on one.
    So a few real learning steps (on a throwaway copy of the network, so its weights and the
    optimizer are untouched) and move choices are timed each way, at the start and every
    PACE_CHECK_SECONDS, and the fastest is used. On a GPU: bfloat16 where it is supported.
    """

    def __init__(self, network: nn.Module, device: torch.device):
        from mathless.games import TORCH_LOADED_FIRST
        from mathless.machine import cores

        self.network, self.device = network, device
        self.precisions = [False, True] if bfloat16_ready(device) else [False]
        self.threads = [1] if TORCH_LOADED_FIRST or cores() == 1 else [cores(), 1]
        self.learn_threads = self.act_threads = self.threads[0]
        self.checked = None  # time.monotonic() of the last check
        self.timings = {}  # (bfloat16?, threads) -> pictures learned from per second
        self.act_timings = {}  # threads -> pictures moves were chosen for per second

    def due(self) -> bool:
        return self.checked is None or time.monotonic() - self.checked >= PACE_CHECK_SECONDS

    def check(self, batch: torch.Tensor, acting: torch.Tensor) -> bool:
        """Time learning on ``batch`` and choosing moves on ``acting`` each way; keep the fastest.
        Returns True when this is the first check or the choice changed."""
        before = None if self.checked is None else self.choice()
        self.checked = time.monotonic()
        if self.device.type == "cuda":
            self.network.fast = bool(self.precisions[-1])
            return before != self.choice()
        for fast in self.precisions:
            for threads in self.threads:
                torch.set_num_threads(threads)
                self.timings[(fast, threads)] = _learning_speed(self.network, batch, fast)
        (fast, self.learn_threads) = max(self.timings, key=self.timings.get)
        self.network.fast = fast
        for threads in self.threads:
            torch.set_num_threads(threads)
            self.act_timings[threads] = _acting_speed(self.network, acting)
        self.act_threads = max(self.act_timings, key=self.act_timings.get)
        self.checked = time.monotonic()  # the next check counts from now, not from before this one
        return before != self.choice()

    def for_acting(self) -> None:
        if self.device.type != "cuda":
            torch.set_num_threads(self.act_threads)

    def for_learning(self) -> None:
        if self.device.type != "cuda":
            torch.set_num_threads(self.learn_threads)

    def choice(self) -> dict:
        return {"precision": "bfloat16" if self.network.fast else "float32",
                "learning_threads": self.learn_threads, "acting_threads": self.act_threads}

    def words(self) -> str:
        if self.device.type == "cuda":
            return f"Learning on the GPU in {self.choice()['precision']}."

        def name(fast, threads):
            return f"{'bfloat16' if fast else 'float32'} on {threads} thread{'s' if threads > 1 else ''}"

        best = (self.network.fast, self.learn_threads)
        others = "; ".join(f"{name(*key)}: {speed:,.0f}" for key, speed in self.timings.items() if key != best)
        text = f"Speed check: learning in {name(*best)}, {self.timings[best]:,.0f} pictures/s"
        if others:
            text += f" ({others})"
        acting = self.act_threads
        return text + f"; choosing moves on {acting} thread{'s' if acting > 1 else ''}."


def _learning_speed(network: nn.Module, batch: torch.Tensor, fast: bool) -> float:
    """Pictures per second of a learning step (forward, backward, Adam) on a copy of ``network``."""
    import copy

    trial = copy.deepcopy(network)
    trial.fast = fast
    optimizer = torch.optim.Adam(trial.parameters(), lr=1e-9)

    def step():
        logits, values = trial(batch)
        loss = logits.logsumexp(1).mean() + values.square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # the first step sets up the kernels: not timed
    steps, start = 0, time.perf_counter()
    while steps < 3 and time.perf_counter() - start < 0.5:
        step()
        steps += 1
    return steps * len(batch) / (time.perf_counter() - start)


def _acting_speed(network: nn.Module, pictures: torch.Tensor) -> float:
    """Pictures per second of choosing moves (forward only) with ``network`` as it is set now."""
    with torch.no_grad():
        network(pictures)
        calls, start = 0, time.perf_counter()
        while calls < 20 and time.perf_counter() - start < 0.2:
            network(pictures)
            calls += 1
    return calls * len(pictures) / (time.perf_counter() - start)


class ActorCritic(nn.Module):
    """PPO's network: which move to make (actor) and how good the position is (critic).

    On pictures both heads share one body; on small states each gets its own (CleanRL's
    choice, it learns more steadily there). ``fast`` (set while training) runs the body
    in bfloat16; the two heads always work in float32, so move chances stay precise.
    """

    def __init__(self, config: dict):
        super().__init__()
        self.fast = False
        self.shared = config["kind"] == "pixels"
        self.body, features = body(config)
        if not self.shared:
            self.critic_body, _ = body(config)
        self.actor = layer_init(nn.Linear(features, config["actions"]), std=0.01)
        self.critic = layer_init(nn.Linear(features, 1), std=1.0)

    def forward(self, x):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.fast):
            features = self.body(x)
            critic_features = features if self.shared else self.critic_body(x)
        features, critic_features = features.float(), critic_features.float()
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
    from mathless.machine import cores

    if torch.cuda.is_available():
        return torch.device("cuda")
    wide = config["kind"] == "pixels" and not TORCH_LOADED_FIRST
    torch.set_num_threads(cores() if wide else 1)
    return torch.device("cpu")
