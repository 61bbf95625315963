"""Explain one picture: which class and why, and what the network computes on it, in numbers.

Why: the class chances, and which part of the picture the answer rests on
(occlusion: each patch greyed out in turn; the bigger the drop in the chance
of the answer, the more that patch mattered), drawn as a small text map.

How: the forward pass layer by layer on this picture — for a convolution, one
filter's weighted sum over its window at the place it responds most; for
pooling, the window it keeps the largest of; for a dense layer, a neuron's
weighted sum — and what one training step would change when the true class is
known (the picture sits in a sub-folder named after its class).
"""

from __future__ import annotations

import numpy as np

from mathless.errors import UserError

SHADES = " .:-=+*#%@"  # light to strong, for the text map


def explain_image(model, data, row: int = 1) -> dict:
    import torch

    from mathless.images.insights import GRID, occlusion, where_in_words
    from mathless.images.model import _listing_for, _where
    from mathless.images.read import open_image

    listing = _listing_for(data, target=None)
    files = listing.files
    if not isinstance(row, int) or not 1 <= row <= len(files):
        raise UserError(f"Image {row} does not exist: {_where(data)} holds images 1 to {len(files):,} (in name order).")
    path, label = files[row - 1], listing.labels[row - 1]
    try:
        image = open_image(path, model.channels, model.size)
    except Exception as error:  # a broken file: say which and why
        raise UserError(f"'{listing.name_of(path)}' could not be read as an image ({error}).") from None
    truth = label if label in model.classes else None
    module = model.module.cpu().eval()
    x = model.prepare(torch.from_numpy(image[None].copy()), False)
    with torch.no_grad():
        chances = torch.softmax(module(x).float(), dim=1)[0].numpy()
    answer = int(chances.argmax())
    top = np.argsort(-chances)[:3]
    why = [f"The model answers '{model.classes[answer]}' with a {chances[answer]:.0%} chance "
           f"(next: {', '.join(f'{model.classes[i]!r} {chances[i]:.0%}' for i in top[1:])})."]
    looked = occlusion(module, model.prepare, image, answer, grid=GRID)
    drops = looked["drops"]
    why.append(f"Greying out one patch at a time ({GRID}×{GRID} patches), the chance of '{model.classes[answer]}' "
               f"falls most when the {where_in_words(drops)} is hidden (by up to {max(drops.max(), 0) * 100:.0f} points). "
               f"Map of how much each patch mattered ({SHADES[1]} little … {SHADES[-1]} most):")
    why.extend(text_map(drops))
    how = forward_pass(module, x, model.classes)
    if truth is not None:
        how.extend(training_step(module, x, model.classes.index(truth), model.classes))
    return {"file": listing.name_of(path), "truth": truth, "answer": model.classes[answer],
            "chances": {c: round(float(p), 4) for c, p in zip(model.classes, chances)},
            "patch_drops": drops.round(4).tolist(), "why": why, "network": how}


def text_map(drops) -> list:
    """The occlusion map as rows of characters, two per patch so it looks square."""
    drops = np.clip(np.asarray(drops, dtype=float), 0, None)
    top = drops.max()
    levels = np.zeros_like(drops, dtype=int) if top <= 0 else np.round(drops / top * (len(SHADES) - 1)).astype(int)
    return ["  |" + "".join(SHADES[v] * 2 for v in line) + "|" for line in levels]


def forward_pass(module, x, classes) -> list:
    """The network's arithmetic on one picture, layer by layer, in numbers."""
    import torch

    from mathless.evaluation.explain import _describe_step

    lines = [f"The network reads the picture as {_shape(x)} numbers (each pixel's brightness, centred and scaled per colour channel)."]
    current = x
    convs = denses = 0
    layers = list(module)
    with torch.no_grad():
        for layer in layers:
            kind = type(layer).__name__
            before = current
            if kind.startswith("Dropout"):
                continue  # only active while training
            current = layer(current)
            if kind == "Conv2d":
                convs += 1
                lines.extend(_conv_line(layer, before, current, convs))
            elif kind == "Linear":
                denses += 1
                lines.extend(_dense_lines(layer, before, current, denses, layer is layers[-1], classes))
            elif kind == "MaxPool2d":
                lines.append(_pool_line(layer, before, current))
            elif kind == "Flatten":
                lines.append(f"flatten: the {_shape(before)} numbers are laid out in one row of {current.shape[1]:,}.")
            elif kind == "AdaptiveAvgPool2d":
                lines.append(f"globalpool: each of the {before.shape[1]:,} maps is averaged into one number.")
            elif kind == "MobileNetV2Features":
                lines.append(f"mobilenet_v2 (pretrained on ImageNet photos, kept as it is): 52 convolution layers in "
                             f"17 blocks turn the picture into {current.shape[1]:,} maps of {current.shape[2]}×{current.shape[3]} "
                             f"(edges, textures, parts of objects).")
            else:
                lines.append("  " + _describe_step(kind, before.flatten().numpy(), current.flatten().numpy(), "on this picture"))
    chances = torch.softmax(current.float(), dim=1)[0].numpy()
    shown = np.argsort(-chances)[:5]
    lines.append("Softmax turns the output scores into chances that add up to 100%: " +
                 ", ".join(f"'{classes[i]}' {chances[i]:.1%}" for i in shown) + (" …" if len(classes) > 5 else "") + ".")
    return lines


def _shape(t) -> str:
    return "×".join(str(s) for s in t.shape[1:])


def _conv_line(layer, before, after, number) -> list:
    """One filter's weighted sum over its window, at the place where it responds most."""
    import torch.nn.functional as F

    out = after[0].numpy()
    f = int(out.reshape(out.shape[0], -1).mean(axis=1).argmax())
    r, c = np.unravel_index(int(out[f].argmax()), out[f].shape)
    k, pad = layer.kernel_size[0], layer.padding[0]
    padded = F.pad(before, (pad, pad, pad, pad))[0].numpy()
    stride = layer.stride[0]
    window = padded[:, r * stride:r * stride + k, c * stride:c * stride + k]
    weights = layer.weight.detach()[f].numpy()
    terms = (window * weights).ravel()
    big = np.argsort(-np.abs(terms))[:3]
    bias = float(layer.bias.detach()[f]) if layer.bias is not None else 0.0
    shown = " + ".join(f"{weights.ravel()[i]:.3g}×{window.ravel()[i]:.3g}" for i in big)
    total = float(terms.sum() + bias)
    return [
        f"Convolution {number}: {layer.out_channels} filters, each a weighted sum of a {k}×{k} window of the "
        f"{layer.in_channels} map{'s' if layer.in_channels > 1 else ''} below ({weights.size} weights + a bias), slid over "
        f"every position: {_shape(before)} → {_shape(after)}.",
        f"  filter {f + 1} (the most active here) at row {r + 1}, column {c + 1}: {shown} + {float(terms.sum() - terms[big].sum()):.3g} "
        f"(the other {terms.size - 3} terms) + bias {bias:.3g} = {total:.4g}",
    ]


def _pool_line(layer, before, after) -> str:
    size = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
    out = after[0].numpy()
    f = int(out.reshape(out.shape[0], -1).mean(axis=1).argmax())
    r, c = np.unravel_index(int(out[f].argmax()), out[f].shape)
    window = before[0, f, r * size:(r + 1) * size, c * size:(c + 1) * size].numpy().ravel()
    return (f"pool: keeps the largest of each {size}×{size} window ({_shape(before)} → {_shape(after)}); e.g. map {f + 1}: "
            f"max({', '.join(f'{v:.3g}' for v in window)}) = {out[f, r, c]:.3g}.")


def _dense_lines(layer, before, after, number, last, classes) -> list:
    inputs, out = before[0].numpy(), after[0].numpy()
    weights, bias = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    lines = [f"Dense layer {number}: {weights.shape[0]} neurons, each a weighted sum of {weights.shape[1]:,} inputs plus a bias."]
    pick = np.argsort(-out)[:3] if not last else np.argsort(-out)[:2]
    for n in pick:
        terms = inputs * weights[n]
        big = np.argsort(-np.abs(terms))[:3]
        shown = " + ".join(f"{weights[n, i]:.3g}×{inputs[i]:.3g}" for i in big)
        title = f"output for '{classes[n]}'" if last else f"neuron {n + 1}"
        lines.append(f"  {title}: {shown} + {float(terms.sum() - terms[big].sum()):.3g} (the other {len(terms) - 3:,} terms) "
                     f"+ bias {bias[n]:.3g} = {out[n]:.4g}")
    return lines


def training_step(module, x, target: int, classes) -> list:
    """What one step of training on this picture would change in the output layer, from the real gradient."""
    import torch

    module.zero_grad()
    loss = torch.nn.functional.cross_entropy(module(x), torch.tensor([target]))
    loss.backward()
    last = [m for m in module if type(m).__name__ == "Linear"][-1]
    gradient = last.weight.grad[target].numpy()
    weight = last.weight.detach()[target].numpy()
    step = 1e-3
    lines = [f"One training step: the true class is '{classes[target]}'; the error (cross-entropy, -log of its chance) "
             f"is {loss.item():.4g}. Each weight moves against its gradient (learning rate {step:g}); the three that "
             f"would move most in the output for '{classes[target]}':"]
    for i in np.argsort(-np.abs(gradient))[:3]:
        lines.append(f"  weight from input {i + 1}: {weight[i]:.4g} → {weight[i] - step * gradient[i]:.4g} "
                     f"({'up' if gradient[i] < 0 else 'down'}, so '{classes[target]}' gets more likely)")
    module.zero_grad()
    return lines
