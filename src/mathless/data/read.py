"""Read a table from CSV, Parquet, Excel or a DataFrame, with plain errors.

CSV files have their encoding and delimiter sniffed, so a semicolon-separated
file saved by a European spreadsheet, or a Windows-1252 file, just works.
Everything that can go wrong with a file becomes a ``UserError`` naming the
file, and the row or column where that helps.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path

from mathless.errors import UserError

CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".dat", ".gz", ".bz2", ".zip", ".xz"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
SNIFF_BYTES = 1 << 16


def describe(source) -> str:
    """How to name the data in a message: the file name, or 'the DataFrame'."""
    return "the DataFrame" if _is_frame(source) else f"'{source}'"


def _is_frame(source) -> bool:
    return type(source).__name__ == "DataFrame"


def read_table(source, notes: list | None = None):
    """Return a DataFrame from a path or DataFrame; append plain notes to ``notes``."""
    import pandas as pd

    notes = notes if notes is not None else []
    if _is_frame(source):
        frame = source.copy()
        _check_columns(list(map(str, frame.columns)), "the DataFrame")
        frame.columns = [str(c) for c in frame.columns]
    else:
        path = _check_path(source)
        kind = _kind_of(path)
        if kind == "parquet":
            frame = _read_parquet(path)
        elif kind == "excel":
            frame = _read_excel(path)
        else:
            frame = _read_csv(path, notes)
    if frame.shape[1] == 0:
        raise UserError(f"{describe(source)} has no columns. Check that it is a table with a header row.")
    if len(frame) == 0:
        raise UserError(
            f"{describe(source)} has column names but no rows. Add the data rows below the header."
        )
    return frame


def iter_table(source, chunk_rows: int = 200_000, notes: list | None = None):
    """Yield the table in pieces of about ``chunk_rows`` rows, for files larger than memory."""
    notes = notes if notes is not None else []
    if _is_frame(source):
        yield read_table(source, notes)
        return
    path = _check_path(source)
    kind = _kind_of(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as error:
            raise UserError(f"'{path}' is not a readable Parquet file ({error}).") from None
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    if kind == "excel":
        yield read_table(path, notes)
        return
    encoding, delimiter, header = _sniff_csv(path, notes)
    import pandas as pd

    try:
        reader = pd.read_csv(
            path, sep=delimiter, encoding=encoding, chunksize=chunk_rows, skipinitialspace=True,
            decimal="," if delimiter == ";" else ".",
        )
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]
            yield chunk
    except pd.errors.ParserError as error:
        raise _ragged_error(path, error, len(header)) from None


def _check_path(source) -> Path:
    path = Path(source)
    if not path.exists():
        hint = ""
        parent = path.parent if str(path.parent) else Path(".")
        if parent.is_dir():
            from mathless.errors import did_you_mean

            hint = did_you_mean(path.name, [p.name for p in parent.iterdir() if p.is_file()])
        raise UserError(f"File '{path}' does not exist.{hint} Check the path and try again.")
    if path.is_dir():
        raise UserError(
            f"'{path}' is a folder, not a file. Give a CSV, Parquet or Excel file inside it."
        )
    if path.stat().st_size == 0:
        raise UserError(f"File '{path}' is empty (0 bytes). Give a file with a header row and data rows.")
    return path


def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") and suffix not in CSV_SUFFIXES:
        return "excel"
    return "csv"


def _read_parquet(path: Path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as error:
        raise UserError(f"'{path}' is not a readable Parquet file ({type(error).__name__}: {error}).") from None


def _read_excel(path: Path):
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=0)
    except ImportError as error:
        raise UserError(f"Reading '{path}' needs an Excel reader that is not installed ({error}).") from None
    except Exception as error:
        raise UserError(
            f"'{path}' is not a readable Excel file ({type(error).__name__}). Save it again "
            f"as .xlsx, or export it as CSV."
        ) from None
    _check_columns([str(c) for c in frame.columns], f"'{path}'")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _decode_sample(path: Path, notes: list) -> tuple[str, str]:
    """Return (encoding, decoded sample). UTF-8 first; otherwise ask charset-normalizer."""
    with open(path, "rb") as handle:
        raw = handle.read(SNIFF_BYTES)
    if b"\x00" in raw:
        raise UserError(
            f"'{path}' does not look like a text table (it contains binary bytes). "
            f"Give a CSV, Parquet or Excel file."
        )
    for encoding in ("utf-8-sig",):
        try:
            return "utf-8-sig", raw.decode(encoding)
        except UnicodeDecodeError as error:
            if error.start >= len(raw) - 3:  # a multi-byte character cut by the sample's end
                return "utf-8-sig", raw[: error.start].decode(encoding)
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise UserError(
            f"'{path}' is not UTF-8 text and its encoding could not be recognised. "
            f"Save it as 'CSV UTF-8' from your spreadsheet program and try again."
        )
    encoding = best.encoding
    notes.append(f"'{path.name}' is not UTF-8; read it as {encoding}.")
    return encoding, str(best)


def _sniff_csv(path: Path, notes: list) -> tuple[str, str, list]:
    encoding, sample = _decode_sample(path, notes)
    lines = sample.splitlines()
    if not any(line.strip() for line in lines):
        raise UserError(f"File '{path}' has only blank lines. Give a file with a header row and data rows.")
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    if delimiter != ",":
        names = {";": "semicolons", "\t": "tabs", "|": "bars"}
        notes.append(f"'{path.name}' is separated by {names[delimiter]}.")
    header = next(csv.reader(io.StringIO(lines[0]), delimiter=delimiter))
    header = [h.strip() for h in header]
    _check_columns(header, f"'{path}'")
    return encoding, delimiter, header


def _read_csv(path: Path, notes: list):
    import pandas as pd

    encoding, delimiter, header = _sniff_csv(path, notes)
    try:
        frame = pd.read_csv(
            path, sep=delimiter, encoding=encoding, skipinitialspace=True, low_memory=False,
            decimal="," if delimiter == ";" else ".",
        )
    except pd.errors.ParserError as error:
        raise _ragged_error(path, error, len(header)) from None
    except pd.errors.EmptyDataError:
        raise UserError(f"File '{path}' has no header row. The first line must name the columns.") from None
    except UnicodeDecodeError as error:
        raise UserError(
            f"'{path}' mixes text encodings: a byte at position {error.start} is not valid {encoding}. "
            f"Save it as 'CSV UTF-8' and try again."
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _ragged_error(path: Path, error, expected: int) -> UserError:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
    if match:
        want, line, saw = match.groups()
        return UserError(
            f"Line {line} of '{path}' has {saw} values but the header has {want} columns. "
            f"Fix that line (a stray separator or a missing quote around text is the usual cause)."
        )
    return UserError(f"'{path}' could not be read as a table: {error}. Check for unbalanced quotes.")


def _check_columns(names: list, where: str) -> None:
    counts = Counter(names)
    twice = [name for name, count in counts.items() if count > 1]
    if twice:
        name = twice[0]
        positions = [str(i + 1) for i, n in enumerate(names) if n == name]
        label = f"'{name}'" if name else "(no name)"
        raise UserError(
            f"Column {label} appears {counts[name]} times in {where} (columns "
            f"{', '.join(positions)}). Give each column its own name."
        )
    blank = [i + 1 for i, n in enumerate(names) if not str(n).strip() or str(n).startswith("Unnamed: ")]
    if blank and len(blank) == len(names):
        raise UserError(f"{where} has no column names in its first row. Add a header row.")
