"""Finding and reading images: a folder with one sub-folder per class, or a table of paths.

Every image becomes a square array of whole numbers 0-255 (channels × size ×
size). Whatever the file holds is made to fit: grayscale, colour with a
transparent background (laid on white), palette colours, 16-bit scans, photos
a phone stored sideways (the EXIF orientation is applied), any size (resized
so the shorter side fits, the middle cut out). A file that is not an image, is
empty or is cut short is skipped and listed, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mathless.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}
TOO_FEW = 10  # a class with fewer images than this is warned about


@dataclass
class ImageList:
    """Image files with their class (None when unknown), and the files skipped with why."""

    files: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    skipped: list = field(default_factory=list)   # [(path, reason)]
    root: Path | None = None

    def name_of(self, path: Path) -> str:
        if self.root is not None:
            try:
                return path.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(path)


def _visible(path) -> bool:
    name = path if isinstance(path, str) else path.name
    return not name.startswith(".") and name not in ("Thumbs.db", "desktop.ini", "__MACOSX")


def _image_files(folder: Path, listing: ImageList):
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or not all(_visible(p) for p in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            listing.skipped.append((path, f"not an image file ({path.suffix or 'no extension'})"))
            continue
        if path.stat().st_size == 0:
            listing.skipped.append((path, "empty file (0 bytes)"))
            continue
        yield path


def scan_class_folder(folder, for_training: bool = True) -> ImageList:
    """Images in ``folder/<class>/…``; the class is the sub-folder's name."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"The folder '{folder}' does not exist. Check the path.")
    if not folder.is_dir():
        raise UserError(f"'{folder}' is a file; give a folder with one sub-folder of images per class.")
    listing = ImageList(root=folder)
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p))
    loose = [p for p in folder.iterdir() if p.is_file() and _visible(p) and p.suffix.lower() in IMAGE_SUFFIXES]
    for class_folder in classes:
        for path in _image_files(class_folder, listing):
            listing.files.append(path)
            listing.labels.append(class_folder.name)
    for path in loose:
        listing.skipped.append((path, "directly in the folder, not in a class sub-folder"))
    if not listing.files:
        if loose:
            raise UserError(
                f"The images in '{folder}' are not sorted into classes. Put them in one sub-folder per class "
                f"(e.g. '{folder}/cats/', '{folder}/dogs/'); the sub-folder's name is the answer to learn."
            )
        raise UserError(
            f"'{folder}' holds no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))} in its sub-folders). "
            f"Put the images in one sub-folder per class."
        )
    return listing


def scan_for_prediction(source) -> ImageList:
    """Images to predict: a folder (searched through, sub-folders included), one file, or a list of files."""
    if isinstance(source, (list, tuple)):
        listing = ImageList()
        for item in source:
            path = Path(item)
            if not path.exists():
                raise UserError(f"The image '{path}' does not exist. Check the path.")
            listing.files.append(path)
            listing.labels.append(None)
        return listing
    path = Path(source)
    if not path.exists():
        raise UserError(f"'{path}' does not exist. Give a folder of images, or an image file.")
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise UserError(f"'{path}' is not an image file ({path.suffix or 'no extension'}). Give a folder of images or an image.")
        listing = ImageList(root=path.parent)
        listing.files.append(path)
        listing.labels.append(None)
        return listing
    listing = ImageList(root=path)
    for file in _image_files(path, listing):
        listing.files.append(file)
        listing.labels.append(file.parent.name if file.parent != path else None)
    if not listing.files:
        raise UserError(f"'{path}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return listing


def image_column(frame) -> str | None:
    """The column whose values look like image file names, if any."""
    best, best_share = None, 0.0
    for column in frame.columns:
        values = frame[column].dropna()
        if len(values) == 0 or not (values.dtype == object or "str" in str(values.dtype).lower()):
            continue
        sample = values.astype(str).head(200)
        share = sample.str.lower().str.endswith(tuple(IMAGE_SUFFIXES)).mean()
        if share > best_share:
            best, best_share = column, share
    return best if best_share >= 0.8 else None


def scan_table(frame, target=None, column=None, base=None, where="the table") -> ImageList:
    """Images named in a table column (paths relative to ``base``), with the ``target`` column as class."""
    column = column or image_column(frame)
    if column is None:
        raise UserError(
            f"{where} has no column of image file names (values ending in .jpg, .png …). "
            f"Add one, or give a folder with one sub-folder per class."
        )
    if column not in frame.columns:
        from mathless.errors import did_you_mean

        raise UserError(f"{where} has no column '{column}'.{did_you_mean(str(column), frame.columns)}")
    if target is not None and target not in frame.columns:
        from mathless.errors import did_you_mean

        raise UserError(f"{where} has no column '{target}' to learn.{did_you_mean(str(target), frame.columns)}")
    base = Path(base) if base is not None else Path.cwd()
    listing = ImageList(root=base)
    for row, (name, label) in enumerate(zip(frame[column], frame[target] if target is not None else [None] * len(frame)), start=2):
        if name is None or name != name or not str(name).strip():
            listing.skipped.append((Path(f"row {row}"), f"no file name in '{column}'"))
            continue
        if target is not None and (label is None or label != label):
            listing.skipped.append((Path(str(name)), f"no value for '{target}'"))
            continue
        path = Path(str(name).strip())
        path = path if path.is_absolute() else base / path
        if not path.exists():
            listing.skipped.append((path, "file not found"))
            continue
        if path.stat().st_size == 0:
            listing.skipped.append((path, "empty file (0 bytes)"))
            continue
        listing.files.append(path)
        listing.labels.append(None if target is None else str(label))
    if not listing.files:
        raise UserError(f"None of the images named in '{column}' of {where} could be found (paths are read relative to {base}).")
    return listing


# ---- reading one image ------------------------------------------------------------------

class BadImage(Exception):
    pass


def open_image(path: Path, channels: int, size: int):
    """The image as uint8 (channels, size, size): shorter side resized to ``size``, centre cut out."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft("RGB" if channels == 3 else "L", (size, size))  # decode big JPEGs at a smaller scale: much faster
            image.load()
            image = ImageOps.exif_transpose(image)
            image = _to_mode(image, channels)
    except UnidentifiedImageError:
        raise BadImage("not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        message = str(error)
        if "truncated" in message.lower():
            raise BadImage("the file is cut short (truncated)") from None
        raise BadImage(f"could not be read ({message[:80]})") from None
    except Image.DecompressionBombError:
        raise BadImage("too large to read safely") from None
    except Exception as error:  # any other decoder failure on a damaged file: skip it, never stop the run
        raise BadImage(f"could not be read ({type(error).__name__}: {str(error)[:80]})") from None
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(new, Image.BILINEAR, reducing_gap=3.0 if scale < 0.5 else None)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    image = image.crop((left, top, left + size, top + size))
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _to_mode(image, channels: int):
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        values = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        image = Image.fromarray(values.astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB" if channels == 3 else "L")


def looks_grey_and_small(paths, sample: int = 50):
    """(all grayscale?, typical shorter side) from a sample of the images."""
    from PIL import Image

    grey, sides = True, []
    step = max(1, len(paths) // sample)
    for path in paths[::step][:sample]:
        try:
            with Image.open(path) as image:
                sides.append(min(image.size))
                if image.mode not in ("L", "1", "I", "I;16", "F", "LA"):
                    if image.mode == "P" or image.mode.startswith("RGB"):
                        small = np.asarray(image.convert("RGB").resize((16, 16)), dtype=np.int16)
                        if np.abs(small - small.mean(axis=2, keepdims=True)).max() > 6:
                            grey = False
                    else:
                        grey = False
        except Exception:
            continue
    return grey, int(np.median(sides)) if sides else 64


def read_images(listing: ImageList, channels: int, size: int, progress=None):
    """Read every listed image; (uint8 array N×C×S×S, labels kept, files kept). Unreadable files move to skipped."""
    arrays, labels, files = [], [], []
    for i, (path, label) in enumerate(zip(listing.files, listing.labels)):
        try:
            arrays.append(open_image(path, channels, size))
        except BadImage as error:
            listing.skipped.append((path, str(error)))
            continue
        labels.append(label)
        files.append(path)
        if progress is not None and i % 500 == 0:
            progress(i, len(listing.files))
    data = np.stack(arrays) if arrays else np.zeros((0, channels, size, size), dtype=np.uint8)
    return data, labels, files


def skipped_note(listing: ImageList, shown: int = 5) -> str | None:
    if not listing.skipped:
        return None
    parts = [f"{listing.name_of(path)} ({reason})" for path, reason in listing.skipped[:shown]]
    more = f" and {len(listing.skipped) - shown} more" if len(listing.skipped) > shown else ""
    count = len(listing.skipped)
    return f"skipped {count} file{'s' if count != 1 else ''} that could not be used: {'; '.join(parts)}{more}"
