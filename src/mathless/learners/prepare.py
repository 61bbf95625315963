"""Turn a table into numbers a learner can use, and remember how, as plain data.

Each column is prepared according to its role. What was learned from the
training data (medians, category lists, TF-IDF vocabulary) is kept in a
JSON-able dict, so a saved model can prepare new rows exactly the same way
without pickles.

Two views are made of the same rows:
- ``trees``: numbers as they are (missing stays missing), categories as codes;
  this is what LightGBM wants.
- ``dense``: everything centred and scaled, categories one-hot, missing values
  filled with a flag column beside them; for the linear model and the network.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from mathless.errors import UserError

MAX_CATEGORIES = 100
TEXT_TERMS = 20_000
YES_WORDS = {"yes", "y", "true", "t", "1", "1.0"}


def as_labels(series):
    """Values as clean strings ('3' not '3.0'), missing kept missing: one spelling at fit and predict."""
    import pandas as pd

    missing = series.isna()
    if pd.api.types.is_bool_dtype(series):
        out = series.astype(str)
    elif pd.api.types.is_numeric_dtype(series):
        values = series.astype(float)
        out = values.map(lambda v: str(int(v)) if np.isfinite(v) and float(v).is_integer() else repr(float(v)))
    else:
        out = series.astype(str).str.strip()
    return out.where(~missing)


def as_numbers(series):
    """(float array, count of cells that were not numbers)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.astype(float).to_numpy(), 0
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float, na_value=np.nan), 0
    numbers = pd.to_numeric(series.astype(str).str.strip().where(series.notna()), errors="coerce")
    bad = int((numbers.isna() & series.notna()).sum())
    return numbers.to_numpy(dtype=float), bad


def as_dates(series):
    """(datetime Series, count of cells that were not dates)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        dates = series
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dates = pd.to_datetime(series.astype(str).where(series.notna()), errors="coerce", format="mixed")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(None)
    bad = int((dates.isna() & series.notna()).sum())
    return dates, bad


DATE_PARTS = ("year", "month", "day", "weekday", "hour", "minute", "days")


def date_parts(dates, with_time: bool) -> dict:
    parts = {
        "year": dates.dt.year, "month": dates.dt.month, "day": dates.dt.day,
        "weekday": dates.dt.day_of_week,
        "days": (dates - np.datetime64("1970-01-01")).dt.total_seconds() / 86400.0,
    }
    if with_time:
        parts["hour"] = dates.dt.hour
        parts["minute"] = dates.dt.minute
    return {k: v.to_numpy(dtype=float, na_value=np.nan) for k, v in parts.items()}


@dataclass
class Design:
    """The prepared rows: both views, their column names, and what was noticed."""

    trees: object
    dense: object
    tree_names: list
    tree_categorical: list
    dense_names: list
    notes: list = field(default_factory=list)
    text_spans: list = field(default_factory=list)  # (start, end) of each text column's word counts in ``dense``


class TablePrep:
    """Prepares columns by role. ``fit`` learns from training rows; ``transform`` applies."""

    def __init__(self, columns: list):
        self.columns = columns  # [{"name", "role", ...learned values}]

    # ---- learning -------------------------------------------------------
    @classmethod
    def fit(cls, frame, roles) -> "TablePrep":
        columns = []
        for role in roles:
            if not role.used:
                continue
            series = frame[role.column]
            spec = {"name": role.column, "role": role.role}
            if role.role == "number":
                values, _ = as_numbers(series)
                spec.update(_scale_of(values))
            elif role.role == "yes/no":
                labels = as_labels(series).dropna()
                seen = sorted(labels.unique(), key=lambda v: (v.lower() in YES_WORDS, v))
                spec["values"] = seen[-2:] if len(seen) >= 2 else ["", *seen]
                if len(seen) > 2:  # more than two values: it is really a category
                    spec["role"] = "category"
                    spec["categories"] = _top_categories(labels)
            elif role.role == "category":
                labels = as_labels(series).dropna()
                spec["categories"] = _top_categories(labels)
                # only when every training label is kept is a label outside the list news worth a note
                spec["complete"] = len(spec["categories"]) == labels.nunique()
            elif role.role == "date":
                dates, _ = as_dates(series)
                valid = dates.dropna()
                spec["with_time"] = bool(len(valid) and ((valid.dt.hour != 0) | (valid.dt.minute != 0)).any())
                parts = date_parts(dates, spec["with_time"])
                spec["parts"] = {name: _scale_of(values) for name, values in parts.items()}
            elif role.role == "text":
                spec.update(_fit_text(series))
            columns.append(spec)
        if not columns:
            raise UserError(
                "No column is left to learn from: every column was ignored (IDs, constants or "
                "empty). Check the roles table above, or force a role with --role COLUMN=number."
            )
        return cls(columns)

    # ---- applying -------------------------------------------------------
    def transform(self, frame) -> Design:
        import pandas as pd
        from scipy import sparse

        missing = [c["name"] for c in self.columns if c["name"] not in frame.columns]
        if missing:
            shown = ", ".join(f"'{m}'" for m in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise UserError(
                f"The data lacks column{'s' if len(missing) > 1 else ''} {shown}{more}, which the "
                f"model needs. Add {'them' if len(missing) > 1 else 'it'} (empty cells are fine)."
            )
        notes = []
        tree_cols, tree_names, tree_cat = [], [], []
        dense_cols, dense_names = [], []
        sparse_tree, sparse_dense = [], []
        rows = len(frame)
        for spec in self.columns:
            name, role, series = spec["name"], spec["role"], frame[spec["name"]]
            if role == "number":
                values, bad = as_numbers(series)
                if bad:
                    notes.append(f"column '{name}': {bad:,} cells were not numbers and were treated as missing")
                tree_cols.append(values); tree_names.append(name)
                _add_dense(dense_cols, dense_names, name, values, spec)
            elif role == "yes/no":
                labels = as_labels(series)
                values = np.where(labels.isna(), np.nan, (labels == spec["values"][1]).astype(float))
                unknown = int((labels.notna() & ~labels.isin(spec["values"])).sum())
                if unknown:
                    notes.append(f"column '{name}': {unknown:,} cells were neither '{spec['values'][0]}' nor '{spec['values'][1]}' and were treated as missing")
                    values[(labels.notna() & ~labels.isin(spec["values"])).to_numpy()] = np.nan
                tree_cols.append(values); tree_names.append(name)
                dense_cols.append(np.nan_to_num(values, nan=0.5)); dense_names.append(name)
            elif role == "category":
                labels = as_labels(series)
                categories = spec["categories"]
                codes = pd.Categorical(labels, categories=categories).codes.astype(float)
                unseen = labels.notna().to_numpy() & (codes < 0)
                codes[unseen] = len(categories)  # 'something else'
                if unseen.any() and spec.get("complete", False):
                    examples = ", ".join(f"'{v}'" for v in labels[unseen].unique()[:3])
                    notes.append(f"column '{name}': {int(unseen.sum()):,} cells had a label not seen in training "
                                 f"(such as {examples}) and were treated as 'something else'")
                codes[labels.isna().to_numpy()] = np.nan
                tree_cols.append(codes); tree_names.append(name); tree_cat.append(len(tree_names) - 1)
                onehot = np.zeros((rows, len(categories)), dtype=np.float32)
                known = (codes >= 0) & (codes < len(categories))
                onehot[np.flatnonzero(known), codes[known].astype(int)] = 1.0
                dense_cols.extend(onehot.T); dense_names.extend(f"{name}={c}" for c in categories)
            elif role == "date":
                dates, bad = as_dates(series)
                if bad:
                    notes.append(f"column '{name}': {bad:,} cells were not dates and were treated as missing")
                for part, values in date_parts(dates, spec["with_time"]).items():
                    tree_cols.append(values); tree_names.append(f"{name}.{part}")
                    _add_dense(dense_cols, dense_names, f"{name}.{part}", values, spec["parts"][part])
            elif role == "text" and spec.get("reading") == "embedding":
                vectors = embed_column(series)
                tree_cols.extend(vectors.T); dense_cols.extend(vectors.T)
                labels = [f"{name}:meaning {i + 1}" for i in range(vectors.shape[1])]
                tree_names.extend(labels); dense_names.extend(labels)
            elif role == "text":
                matrix = _text_matrix(series, spec)
                sparse_tree.append(matrix); sparse_dense.append(matrix)
                terms = [f"{name}:{t}" for t in spec["terms"]]
                tree_names.extend(terms); dense_names.extend(terms)
        trees = np.column_stack(tree_cols).astype(np.float32) if tree_cols else np.zeros((rows, 0), np.float32)
        dense = np.column_stack(dense_cols).astype(np.float32) if dense_cols else np.zeros((rows, 0), np.float32)
        text_spans, start = [], dense.shape[1]
        for matrix in sparse_dense:  # the word counts come after the other columns, one text column after another
            text_spans.append((start, start + matrix.shape[1]))
            start += matrix.shape[1]
        if sparse_tree:
            trees = sparse.hstack([sparse.csr_matrix(trees), *sparse_tree], format="csr", dtype=np.float32)
            dense = sparse.hstack([sparse.csr_matrix(dense), *sparse_dense], format="csr", dtype=np.float32)
        return Design(trees, dense, tree_names, tree_cat, dense_names, notes, text_spans)

    def to_dict(self) -> list:
        return self.columns

    @classmethod
    def from_dict(cls, columns: list) -> "TablePrep":
        return cls(columns)


def _scale_of(values) -> dict:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {"fill": 0.0, "mean": 0.0, "scale": 1.0, "flag_missing": True}
    fill = float(np.median(finite))
    std = float(finite.std())
    return {
        "fill": fill, "mean": float(finite.mean()), "scale": std if std > 0 else 1.0,
        "flag_missing": bool(len(finite) < len(values)),
    }


def _add_dense(cols, names, name, values, scale) -> None:
    missing = ~np.isfinite(values)
    filled = np.where(missing, scale["fill"], values)
    cols.append(np.clip((filled - scale["mean"]) / scale["scale"], -10, 10))
    names.append(name)
    if scale["flag_missing"]:
        cols.append(missing.astype(np.float32))
        names.append(f"{name} is missing")


def _top_categories(labels) -> list:
    """The labels seen at least twice (at most MAX_CATEGORIES); the rest become 'something else'."""
    counts = labels.value_counts()
    keep = counts[counts >= 2] if (counts >= 2).sum() >= 2 else counts
    return [str(v) for v in keep.index[:MAX_CATEGORIES]]


def _fit_text(series) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mathless.text.words import TOKEN_PATTERN

    texts = series.fillna("").astype(str)
    vectorizer = TfidfVectorizer(max_features=TEXT_TERMS, ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                 token_pattern=TOKEN_PATTERN)
    try:
        vectorizer.fit(texts)
    except ValueError:  # too few repeated words: keep single words seen once
        vectorizer = TfidfVectorizer(max_features=TEXT_TERMS, sublinear_tf=True, token_pattern=TOKEN_PATTERN)
        try:
            vectorizer.fit(texts)
        except ValueError:
            return {"terms": [], "idf": []}
    terms = vectorizer.get_feature_names_out().tolist()
    return {"terms": terms, "idf": vectorizer.idf_.tolist()}


_EMBEDDED: dict = {}  # text -> its sentence embedding, so shuffled or repeated texts are read once
_EMBEDDED_LIMIT = 500_000


def embed_column(series) -> np.ndarray:
    """Sentence embeddings (one row of numbers per cell); texts seen before come from memory."""
    from mathless.errors import UserError
    from mathless.text.embed import embed_texts, why_unavailable

    texts = series.fillna("").astype(str).tolist()
    new = list(dict.fromkeys(t for t in texts if t not in _EMBEDDED))
    if new:
        vectors = embed_texts(new)
        if vectors is None:
            raise UserError(f"This model reads text with a sentence-embedding model, which is not available here: "
                            f"{why_unavailable()}.")
        if len(_EMBEDDED) + len(new) > _EMBEDDED_LIMIT:
            _EMBEDDED.clear()
        _EMBEDDED.update(zip(new, vectors))
    return np.vstack([_EMBEDDED[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, 384), np.float32)


def _text_matrix(series, spec):
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mathless.text.words import TOKEN_PATTERN

    if not spec["terms"]:
        return sparse.csr_matrix((len(series), 0), dtype=np.float32)
    vectorizer = TfidfVectorizer(
        vocabulary={t: i for i, t in enumerate(spec["terms"])},
        ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32, token_pattern=TOKEN_PATTERN,
    )
    vectorizer.idf_ = np.asarray(spec["idf"], dtype=np.float64)
    return vectorizer.transform(series.fillna("").astype(str))
