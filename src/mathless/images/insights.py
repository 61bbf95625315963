"""What training an image model found out beyond the headline number, for the report and the doctor.

Gathered once at the end of ``fit`` (the images are in memory then) and stored
as plain data in the model folder's manifest:
- learning curves (error on training and held-out images as training went on);
- the confusion matrix and per-class results on held-out images;
- training vs held-out accuracy, duplicate pictures shared by the two, class
  counts (the doctor's evidence, the same checks as for tables);
- the worst mistakes and one example per class, as small thumbnails;
- which parts of the picture mattered (occlusion: grey out one patch at a time
  and measure how much the chance of the true class drops), averaged over some
  held-out images;
- a profile of the pictures (how bright, how much contrast), so ``predict`` can
  say when new pictures differ clearly from the training ones (drift).
"""

from __future__ import annotations

import base64
import hashlib
import io
import time

import numpy as np

from mathless.evaluation.insights import downsample, outcome_tables

GRID = 7  # the picture is cut into GRID x GRID patches for occlusion
THUMBNAIL = 72
WORST = 8
EXAMPLE_CLASSES = 12
TRAINING_SAMPLE = 2000
PLACES = [["top-left", "top", "top-right"], ["left", "centre", "right"], ["bottom-left", "bottom", "bottom-right"]]


def gather(module, prepare, images, y, train_rows, held_rows, held_probabilities, training_chances, trained,
           classes, names, seconds: float) -> dict:
    """All insights for a freshly trained image model; the occlusion map gets at most ``seconds``."""
    y_held = y[held_rows]
    insights = {"kind": "images", "rows": int(len(images)), "profile": profile(picture_stats(images)),
                "class_counts": {c: int((y == i).sum()) for i, c in enumerate(classes)}}
    insights.update(outcome_tables("one-of-many", classes, y_held, held_probabilities, np.arange(len(held_rows))))
    history = trained.history
    if history:
        insights["curves"] = {"network": {
            "held_out": downsample([h["loss"] for h in history]),
            "training": downsample([h.get("train_loss", float("nan")) for h in history]),
        }}
    if trained.stopped == "training was unstable":
        insights["diverged"] = ["network"]
    sample_rows, sample_chances = training_chances
    if len(sample_rows):
        insights["training_metrics"] = {"accuracy": float((sample_chances.argmax(axis=1) == y[sample_rows]).mean())}
    insights["duplicates"] = duplicates_across(images, train_rows, held_rows)
    insights["worst"] = worst_mistakes(images, y_held, held_probabilities, held_rows, classes, names)
    insights["examples"] = {classes[i]: thumbnail(images[np.flatnonzero(y == i)[0]])
                            for i in range(min(len(classes), EXAMPLE_CLASSES)) if (y == i).any()}
    deadline = time.monotonic() + seconds
    maps = []
    for row, truth in zip(held_rows, y_held):
        if maps and time.monotonic() > deadline:
            break
        maps.append(occlusion(module, prepare, images[row], int(truth))["drops"])
        if len(maps) >= 32:
            break
    if maps:
        insights["importance_map"] = np.mean(maps, axis=0).round(5).tolist()
        insights["importance_images"] = len(maps)
    return insights


PICTURE_MEASURES = {"brightness": ("brighter", "darker"), "contrast": ("more contrasted", "flatter (less contrast)")}


def picture_stats(images) -> dict:
    """Each picture's brightness (average pixel, 0-1) and contrast (spread of its pixels, 0-1)."""
    flat = np.asarray(images).reshape(len(images), -1)
    out = {"brightness": np.zeros(len(flat)), "contrast": np.zeros(len(flat))}
    for start in range(0, len(flat), 4096):  # in slices: a float copy of 60,000 pictures at once is large
        part = flat[start:start + 4096].astype(np.float32) / 255.0
        out["brightness"][start:start + 4096] = part.mean(axis=1)
        out["contrast"][start:start + 4096] = part.std(axis=1)
    return out


def profile(stats) -> dict:
    """Deciles and the middle value of each picture measure, as stored in the model folder."""
    return {name: {"edges": np.unique(np.quantile(values, np.linspace(0, 1, 11))).round(5).tolist(),
                   "typical": round(float(np.median(values)), 5)} for name, values in stats.items()}


def drift(profile_: dict, stats: dict) -> list:
    """Plain-words notes when new pictures are clearly brighter/darker or more/less contrasted than in training.

    The same test as for table columns (doctor._shifted): a clear shift (PSI at
    least 0.25) that is also unlikely to be chance (chi-square, p < 0.001).
    """
    from mathless.evaluation.doctor import _shifted, finding

    found = []
    for name, (more, less) in PICTURE_MEASURES.items():
        entry, values = profile_.get(name), np.asarray(stats.get(name, []))
        if not entry or len(entry["edges"]) < 3 or len(values) < 30:
            continue
        edges = np.asarray(entry["edges"])
        expected = np.full(len(edges) - 1, 1 / (len(edges) - 1))
        actual = np.bincount(np.searchsorted(edges[1:-1], values, side="right"), minlength=len(edges) - 1) / len(values)
        if _shifted(expected, actual, len(values)):
            now, then = float(np.median(values)), entry["typical"]
            found.append(finding(
                "drift",
                f"Drift: these pictures are mostly {more if now > then else less} than the training pictures "
                f"({name} {now:.2f} for the middle picture now, {then:.2f} in training; 0 is black, 1 white).",
                "Predictions for such pictures are less reliable; add pictures like these to the training folders and train again.",
            ))
    return found


def training_sample(rows):
    """Up to TRAINING_SAMPLE evenly spread training rows (to score the model on what it learned from)."""
    return np.asarray(rows)[:: max(1, len(rows) // TRAINING_SAMPLE)]


def duplicates_across(images, train_rows, held_rows) -> dict:
    """Held-out images that are pixel-for-pixel copies of a training image."""
    seen = {hashlib.blake2b(images[i].tobytes(), digest_size=16).digest() for i in train_rows}
    shared = sum(1 for i in held_rows if hashlib.blake2b(images[i].tobytes(), digest_size=16).digest() in seen)
    return {"shared": int(shared), "rows": int(len(held_rows))}


def worst_mistakes(images, y_held, probabilities, held_rows, classes, names) -> list:
    """The held-out images the model was most wrong about, with a thumbnail each."""
    chance_true = probabilities[np.arange(len(y_held)), y_held]
    order = np.argsort(chance_true)
    out = []
    for i in order[:WORST]:
        said = int(probabilities[i].argmax())
        if said == y_held[i] and out:
            break  # show right answers only when there is no mistake at all
        out.append({
            "file": names[int(held_rows[i])], "truth": classes[int(y_held[i])], "predicted": classes[said],
            "detail": f"chance given to the true class: {chance_true[i]:.0%}",
            "thumbnail": thumbnail(images[int(held_rows[i])]),
        })
    return out


def thumbnail(image, size: int = THUMBNAIL) -> str:
    """A stored image (channels × height × width bytes) as a small base64 PNG."""
    from PIL import Image

    array = np.asarray(image)
    picture = Image.fromarray(array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0)))
    picture = picture.resize((size, size), Image.NEAREST if array.shape[-1] <= 32 else Image.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def occlusion(module, prepare, image, class_index: int, grid: int = GRID) -> dict:
    """Grey out each of grid × grid patches in turn; how much does the chance of ``class_index`` drop?

    The patch is filled with the picture's own average colour, so what is removed is
    the detail there, not the brightness. Returns the chance on the whole picture and
    the drop per patch (positive: the patch was evidence for the class).
    """
    import torch

    image = np.asarray(image)
    channels, height, width = image.shape
    edges_y = np.linspace(0, height, grid + 1).round().astype(int)
    edges_x = np.linspace(0, width, grid + 1).round().astype(int)
    fill = image.reshape(channels, -1).mean(axis=1).round().astype(np.uint8)
    batch = np.repeat(image[None], grid * grid + 1, axis=0)
    for r in range(grid):
        for c in range(grid):
            batch[1 + r * grid + c, :, edges_y[r]:edges_y[r + 1], edges_x[c]:edges_x[c + 1]] = fill[:, None, None]
    module.eval()
    where = next(module.parameters()).device
    chances = []
    with torch.inference_mode():
        for start in range(0, len(batch), 25):
            part = torch.from_numpy(batch[start:start + 25]).to(where)
            chances.append(torch.softmax(module(prepare(part, False)).float(), dim=1)[:, class_index].cpu().numpy())
    chances = np.concatenate(chances)
    return {"chance": float(chances[0]), "drops": (chances[0] - chances[1:]).reshape(grid, grid)}


def where_in_words(drops) -> str:
    """Name the part of the picture (top-left ... bottom-right) whose patches mattered most."""
    drops = np.asarray(drops, dtype=float)
    grid = drops.shape[0]
    thirds = np.minimum((np.arange(grid) * 3) // grid, 2)
    totals = np.zeros((3, 3))
    for r in range(grid):
        for c in range(grid):
            totals[thirds[r], thirds[c]] += max(drops[r, c], 0.0)
    r, c = np.unravel_index(int(totals.argmax()), totals.shape)
    return PLACES[r][c]
