"""Work out what the answer is (the task) and what each column is (its role).

Every decision comes with a reason in plain words, shown to the user, and can
be overridden (``task=``, ``roles=``, ``ignore=``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from mathless.errors import UserError, did_you_mean
from mathless.text.words import count_words

ROLES = ("number", "category", "yes/no", "date", "text", "image", "id", "constant", "empty")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
USED_ROLES = ("number", "category", "yes/no", "date", "text")
TASKS = ("yes/no", "one-of-many", "number")
TASK_ALIASES = {
    "yes/no": "yes/no", "yesno": "yes/no", "binary": "yes/no", "binary classification": "yes/no",
    "one-of-many": "one-of-many", "multiclass": "one-of-many", "classification": "one-of-many",
    "category": "one-of-many", "class": "one-of-many",
    "number": "number", "regression": "number", "numeric": "number",
}
ROLE_ALIASES = {"numeric": "number", "categorical": "category", "bool": "yes/no", "boolean": "yes/no",
                "datetime": "date", "time": "date", "ignore": "id", "identifier": "id"}
YES_NO_WORDS = [{"yes", "no"}, {"y", "n"}, {"true", "false"}, {"t", "f"}, {"0", "1"}, {"0.0", "1.0"}]
ID_NAME = re.compile(r"(^|[_\s-])(id|key|uuid|guid|index|code)$|^(id|idx|index|row|rownum)[_\s-]?", re.I)
SAMPLE = 5000


@dataclass
class Role:
    column: str
    role: str
    reason: str

    @property
    def used(self) -> bool:
        return self.role in USED_ROLES


def normalise_task(task: str) -> str:
    found = TASK_ALIASES.get(str(task).strip().lower())
    if not found:
        raise UserError(f"Unknown task '{task}'. Use one of: yes/no, one-of-many, number.")
    return found


def infer_task(target, name: str) -> tuple[str, str]:
    """Return (task, reason) for the target column (missing values already dropped)."""
    import pandas as pd

    values = target.dropna()
    distinct = values.nunique()
    if distinct == 2:
        shown = " and ".join(f"'{v}'" for v in sorted(map(str, values.unique())))
        return "yes/no", f"'{name}' has two different values: {shown}"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric:
        whole = bool((values == values.round()).all())
        if whole and distinct <= 10:
            return "one-of-many", f"'{name}' holds {distinct} different whole numbers, so each is treated as a class (use --task number for a quantity)"
        return "number", f"'{name}' holds numbers ({distinct:,} different values)"
    return "one-of-many", f"'{name}' has {distinct} different values"


def infer_roles(frame, target: str, roles: dict | None = None, ignore=()) -> list[Role]:
    """One ``Role`` per column except the target, each with a reason."""
    roles = dict(roles or {})
    columns = [c for c in frame.columns if c != target]
    for column in list(roles) + list(ignore):
        if column not in frame.columns:
            raise UserError(f"Column '{column}' (named in roles/ignore) is not in the data.{did_you_mean(column, frame.columns)}")
    found = []
    for column in columns:
        if column in ignore:
            found.append(Role(column, "id", "you asked to ignore it"))
        elif column in roles:
            role = ROLE_ALIASES.get(roles[column].lower(), roles[column].lower())
            if role not in ROLES:
                raise UserError(f"Unknown role '{roles[column]}' for column '{column}'. Use one of: {', '.join(ROLES)}.")
            found.append(Role(column, role, "you said so"))
        else:
            found.append(Role(column, *column_role(frame[column], column)))
    return found


def column_role(series, name: str) -> tuple[str, str]:
    """(role, reason) for one column, from its values and its name."""
    import pandas as pd

    rows = len(series)
    values = series.dropna()
    if len(values) == 0:
        return "empty", "every value is missing"
    if len(values) > SAMPLE * 4:
        sample = values.sample(SAMPLE * 4, random_state=0)
    else:
        sample = values
    distinct = values.nunique()
    if distinct == 1:
        return "constant", f"always '{values.iloc[0]}'"
    if pd.api.types.is_bool_dtype(values):
        return "yes/no", "true/false values"
    if distinct == 2:
        words = {str(v).strip().lower() for v in values.unique()}
        if any(words == w for w in YES_NO_WORDS):
            return "yes/no", f"two values: {', '.join(sorted(words))}"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date", "dates and times"
    if pd.api.types.is_numeric_dtype(values):
        whole = pd.api.types.is_integer_dtype(values) or bool((sample == sample.round()).all())
        if whole and distinct == len(values) and len(values) >= 20:
            if ID_NAME.search(name) or _is_counter(values):
                return "id", "a different whole number on every row, like a row number or ID"
        if distinct == 2:
            return "yes/no", "two values"
        return "number", f"numbers ({distinct:,} different values)"
    text = sample.astype(str).str.strip()
    as_number = pd.to_numeric(text, errors="coerce")
    if text.str.lower().str.endswith(IMAGE_SUFFIXES).mean() >= 0.9:
        return "image", "paths of image files"
    if as_number.notna().mean() >= 0.95:
        bad = int(as_number.isna().sum())
        return "number", f"numbers written as text ({bad} cells in a sample of {len(text)} were not numbers and count as missing)"
    if _looks_like_dates(text):
        return "date", "dates or times"
    words = count_words(text).mean()
    if (distinct == len(values) and len(values) >= 20 and text.str.len().mean() < 40
            and not text.str.contains(r"\s").mean() > 0.5 and not words >= 4):
        return "id", "a different value on every row, like an ID or a name"
    if words >= 4 and distinct > 0.3 * len(values):
        return "text", f"free text (about {words:.0f} words per cell)"
    if distinct > 1000 and distinct > 0.5 * len(values):
        return "id", f"too many different values to learn from ({distinct:,} in {rows:,} rows)"
    return "category", f"{distinct:,} different labels"


def _is_counter(values) -> bool:
    ordered = values.sort_values().to_numpy()
    steps = ordered[1:] - ordered[:-1]
    return bool(len(steps) and (steps == steps[0]).all())


def _looks_like_dates(text) -> bool:
    import pandas as pd

    head = text.head(200)
    if not head.str.contains(r"\d{1,4}[-/.:]\d{1,2}").mean() > 0.9:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(head, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            return False
    return parsed.notna().mean() > 0.9
