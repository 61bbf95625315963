"""Turning a batch of stored images into network input, with random changes while training.

The network sees numbers around 0 with a spread of about 1 (each channel's
average subtracted and divided by its spread). While training, each image is
also changed a little at random — turned a few degrees, moved, zoomed, and for
photos mirrored and made lighter or darker — so the network learns what stays
the same (the class), not the exact pixels (this is called augmentation).
Digits and letters are never mirrored: a mirrored 2 is not a 2.
"""

from __future__ import annotations

import math

# how strongly each kind of image is changed while training
AUGMENT = {
    "none": dict(turn=0, zoom=0, move=0, mirror=False, light=0),
    "small": dict(turn=8, zoom=0.08, move=0.1, mirror=False, light=0),        # digits, letters, symbols
    "photo": dict(turn=10, zoom=0.15, move=0.15, mirror=True, light=0.2),
}


class Prepare:
    """``prepare(batch_uint8, training) -> float tensor``; rebuilt from ``to_dict()`` alone."""

    def __init__(self, mean, std, augment: str = "none"):
        self.mean, self.std, self.augment = [float(m) for m in mean], [float(s) for s in std], augment

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "augment": self.augment}

    @classmethod
    def from_dict(cls, data: dict) -> "Prepare":
        return cls(data["mean"], data["std"], data.get("augment", "none"))

    def __call__(self, batch, training: bool = False):
        import torch

        x = batch.float().div_(255.0)
        if training and self.augment != "none":
            x = _augment(x, **AUGMENT[self.augment])
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        # channels-last layout: PyTorch's CPU convolutions run up to twice as fast on it
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def _augment(x, turn, zoom, move, mirror, light):
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(turn)
    scale = 1 + (torch.rand(n, device=x.device) * 2 - 1) * zoom
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    flip = torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0) if mirror else torch.ones(n, device=x.device)
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * move * 2
    theta = torch.stack([
        torch.stack([cos * flip, -sin, shift[:, 0]], dim=1),
        torch.stack([sin * flip, cos, shift[:, 1]], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # the border is filled with the image's own edge colour, so a moved image shows no black bars
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if light:
        gain = 1 + (torch.rand(n, 1, 1, 1, device=x.device) * 2 - 1) * light
        offset = (torch.rand(n, 1, 1, 1, device=x.device) * 2 - 1) * light / 2
        x = (x * gain + offset).clamp_(0, 1)
    return x


def channel_stats(images, sample: int = 2000):
    """Each channel's average and spread (0-1 scale) over a sample of uint8 images N×C×H×W."""
    import numpy as np

    part = images[:: max(1, len(images) // sample)].astype(np.float32) / 255.0
    mean = part.mean(axis=(0, 2, 3))
    std = part.std(axis=(0, 2, 3))
    return mean.tolist(), np.maximum(std, 1e-3).tolist()
