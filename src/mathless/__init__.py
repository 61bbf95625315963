"""mathless: machine learning for programmers with little math.

    import mathless as ml
    model = ml.fit("houses.csv", target="price")
    model.evaluate("holdout.csv")
    model.predict("new.csv")
    model.save("house-model"); ml.load("house-model")

Heavy libraries (pandas, LightGBM, PyTorch, Gymnasium) are imported only when
a function that needs them runs, so ``import mathless`` stays fast.
"""

from __future__ import annotations

import os

# OpenMP threads (LightGBM, PyTorch, scikit-learn) spin while they wait for work.
# When another program holds a core, two spinning pools made a 0.07 s LightGBM fit
# take 11-68 s on a 2-core machine; sleeping instead of spinning avoids that.
# It must be set before those libraries load; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

from mathless.errors import UserError

__all__ = ["fit", "load", "play", "UserError", "__version__"]


def fit(data, target=None, **options):
    """Train the best model for predicting ``target``.

    ``data`` is a CSV/Parquet/Excel path or a pandas DataFrame (a table), or a
    folder of images with one sub-folder per class. Options: ``time_limit``
    (seconds), ``task`` ("yes/no", "one-of-many", "number"), ``roles``
    ({column: role}), ``ignore`` ([columns]), ``layers`` (your own network as
    layer words, e.g. ["dense 64", "dropout 0.2"]) or ``network`` (a YAML file
    of them), ``quiet``, ``seed``.
    """
    from pathlib import Path

    if isinstance(data, (str, Path)) and Path(data).is_dir():
        from mathless.images.fit import fit_images

        return fit_images(data, target=target, **options)
    from mathless.learners.fit import fit as _fit

    return _fit(data, target=target, **options)


def load(folder):
    """Load a model or game agent folder written by ``save`` (never runs code from it)."""
    from mathless.storage.folder import read_manifest

    manifest = read_manifest(folder)
    if manifest["kind"] == "agent":
        from mathless.games.agent import Agent

        return Agent.load(folder)
    if manifest["kind"] == "image":
        from mathless.images.model import ImageModel

        return ImageModel.load(folder)
    from mathless.model import TableModel

    return TableModel.load(folder)


def play(game, **options):
    """Train an agent to play ``game`` (an Atari name like "Pong" or a Gymnasium id)."""
    from mathless.games.play import play as _play

    return _play(game, **options)
