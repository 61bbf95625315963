"""Writing and reading a model folder safely.

A model folder is plain data: ``manifest.json`` plus weight files (safetensors,
LightGBM's own text format, CSV, PNG). Loading it never runs code from it.

Saving is atomic: everything is written to a hidden sibling folder first and
moved into place with a rename, so a crash mid-save leaves the old folder as it
was. Each file's SHA-256 is recorded in the manifest, so a truncated or edited
file is caught when loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from mathless.errors import UserError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_can_write(out: Path, overwrite: bool) -> None:
    """Refuse to replace an existing output unless the user asked for it."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise UserError(
            f"'{out}' already exists. Choose another name, or add --overwrite "
            f"(overwrite=True in Python) to replace it."
        )
    if out.exists() and out.is_dir() and not (out / MANIFEST).exists() and any(out.iterdir()):
        raise UserError(
            f"'{out}' is a folder that is not a mathless model; refusing to replace it. "
            f"Choose another name."
        )
    if out.exists() and not out.is_dir():
        raise UserError(f"'{out}' is a file, not a folder. Choose another name for the model.")


@contextmanager
def atomic_folder(out: Path, overwrite: bool = False):
    """Yield a temporary folder; on success it replaces ``out`` in one rename.

    The caller writes its files (and finally the manifest, via ``write_manifest``)
    into the yielded folder. If anything fails, the temporary folder is removed
    and ``out`` is untouched.
    """
    out = Path(out)
    check_can_write(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.saving-", dir=out.parent))
    try:
        yield staging
        if out.exists():
            retired = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, retired)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write ``manifest.json`` last, listing the SHA-256 of every other file."""
    folder = Path(folder)
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[path.relative_to(folder).as_posix()] = sha256_of(path)
    manifest = dict(manifest, format_version=FORMAT_VERSION, files=files)
    data = json.dumps(manifest, indent=2, sort_keys=False, default=_json_default)
    with open(folder / MANIFEST, "w", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value):
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a manifest")


def read_manifest(folder, expected_kind: str | None = None) -> dict:
    """Read and verify a folder's manifest; every problem is a plain UserError."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"Model folder '{folder}' does not exist. Check the path.")
    if not folder.is_dir():
        raise UserError(
            f"'{folder}' is a file, not a model folder. Give the folder that "
            f"'mathless fit' (or 'mathless play') wrote."
        )
    path = folder / MANIFEST
    if not path.exists():
        raise UserError(
            f"'{folder}' is not a mathless model folder (it has no {MANIFEST}). "
            f"Give the folder that 'mathless fit' (or 'mathless play') wrote."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(
            f"The model folder '{folder}' is damaged: its {MANIFEST} is not readable JSON. "
            f"Train the model again or restore the folder from a backup."
        ) from None
    if not isinstance(manifest, dict) or "format_version" not in manifest or "kind" not in manifest:
        raise UserError(
            f"'{folder}' does not hold a mathless model: its {MANIFEST} lacks the "
            f"format version and kind. Train the model again with 'mathless fit'."
        )
    version = manifest["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UserError(
            f"The model folder '{folder}' was written by a newer mathless (folder format "
            f"{version}; this version reads up to {FORMAT_VERSION}). Upgrade mathless: "
            f"pip install -U mathless."
        )
    if expected_kind and manifest["kind"] != expected_kind:
        raise UserError(
            f"'{folder}' holds a {manifest['kind']} model, not a {expected_kind} model."
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise UserError(f"The model folder '{folder}' is damaged: its file list is missing.")
    for name, digest in files.items():
        file = folder / name
        if not file.resolve().is_relative_to(folder.resolve()):
            raise UserError(f"The model folder '{folder}' names a file outside itself ('{name}'); refusing to read it.")
        if not file.exists():
            raise UserError(
                f"The model folder '{folder}' is incomplete: '{name}' is missing. "
                f"Train the model again or restore the folder from a backup."
            )
        if sha256_of(file) != digest:
            raise UserError(
                f"The model folder '{folder}' is damaged or was edited: '{name}' does not "
                f"match the checksum recorded when it was saved. Train the model again or "
                f"restore the folder from a backup."
            )
    return manifest
