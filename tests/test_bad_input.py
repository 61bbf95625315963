"""Every user mistake: one plain message naming what and where, exit status 2, no traceback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mathless as ml
from conftest import assert_user_error, run_cli


def fit(path, target="y", *extra):
    return run_cli("fit", path, "--target", target, "--time", "3", *extra)


@pytest.fixture
def small_csv(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.integers(40, 200, 60), "rooms": rng.integers(1, 6, 60)})
    frame["y"] = frame["size"] * 3 + rng.normal(0, 5, 60)
    path = tmp_path / "houses.csv"
    frame.to_csv(path, index=False)
    return path


def test_missing_file(tmp_path, small_csv):
    assert_user_error(fit(tmp_path / "nothere.csv"), "does not exist", "nothere.csv")
    assert_user_error(fit(tmp_path / "house.csv"), "did you mean 'houses.csv'")


def test_folder_instead_of_file(tmp_path, trained):
    (tmp_path / "empty").mkdir()
    assert_user_error(run_cli("predict", trained / "model", tmp_path / "empty"), "is a folder")
    assert_user_error(run_cli("evaluate", trained / "model", tmp_path / "empty"), "is a folder")
    assert_user_error(fit(tmp_path / "empty"), "holds no images")  # a folder is read as images, one sub-folder per class


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert_user_error(fit(path), "empty", "empty.csv")


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("size,rooms,y\n")
    assert_user_error(fit(path), "no rows")


def test_target_missing_suggests_closest(small_csv):
    assert_user_error(fit(small_csv, "room"), "no column 'room'", "did you mean 'rooms'")


def test_target_all_missing(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(30), "y": [None] * 30}).to_csv(path, index=False)
    assert_user_error(fit(path), "every value of 'y'", "missing")


def test_one_class_only(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(30), "y": ["spam"] * 30}).to_csv(path, index=False)
    result = fit(path)
    assert_user_error(result, "only one value", "'spam'")


def test_non_utf8_text_is_read_with_a_note(tmp_path):
    path = tmp_path / "latin.csv"
    rows = ["city,size,y"] + [f"{'Montréal' if i % 2 else 'Zürich'},{i},{i * 2 + (i % 3)}" for i in range(40)]
    path.write_bytes("\n".join(rows).encode("cp1252"))
    result = fit(path, "y", "--out", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    assert "not UTF-8" in result.stderr
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    city = next(c for c in manifest["prep"] if c["name"] == "city")
    assert sorted(city["categories"]) == ["Montréal", "Zürich"]


def test_binary_bytes_are_refused(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    assert_user_error(fit(path), "not look like a text table")


def test_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    lines = ["a,b,y"] + [f"{i},{i},{i}" for i in range(20)]
    lines[8] = "1,2,3,4"
    path.write_text("\n".join(lines) + "\n")
    assert_user_error(fit(path), "line 9", "4 values", "3 columns")


def test_duplicate_column_names(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,y\n" + "".join(f"{i},{i},{i},{i}\n" for i in range(20)))
    assert_user_error(fit(path), "column 'a' appears 2 times", "columns 1, 3")


def test_semicolon_separated_file_with_decimal_commas_works(tmp_path):
    path = tmp_path / "euro.csv"
    sizes = np.random.default_rng(0).integers(20, 90, 60)
    path.write_text("size;price\n" + "".join(f"{s};{s * 2},5\n" for s in sizes))
    # a real model, so a budget that leaves the learners time after start-up on a slow machine too
    result = run_cli("fit", path, "--target", "price", "--time", "10", "--out", tmp_path / "m", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "number" and summary["metrics"]["r2"] > 0.9
    assert any("semicolons" in note for note in summary["data"]["notes"])


def test_single_row(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("x,y\n1,2\n")
    assert_user_error(fit(path), "only 1 row", "add more rows")


def test_a_million_distinct_categories_is_ignored_not_fatal(tmp_path):
    rows = 1_000_000
    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    frame = pd.DataFrame({"code": [f"c{i:07d}" for i in range(rows)], "x": x.round(3),
                          "y": np.where(x + rng.normal(0, 0.5, rows) > 0, "up", "down")})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    result = fit(path, "y", "--out", tmp_path / "m", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    roles = {r["column"]: r["role"] for r in summary["roles"]}
    assert roles["code"] == "id"
    assert summary["metrics"]["accuracy"] > 0.8


def test_unknown_role_and_ignore_column(small_csv):
    assert_user_error(fit(small_csv, "y", "--role", "size=colour"), "unknown role 'colour'")
    assert_user_error(fit(small_csv, "y", "--ignore", "sise"), "'sise'", "did you mean 'size'")
    assert_user_error(fit(small_csv, "y", "--role", "size"), "column=role")


def test_nothing_left_to_learn_from(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": range(100), "same": 1, "y": [0, 1] * 50}).to_csv(path, index=False)
    assert_user_error(fit(path), "no column is left to learn from")


def test_target_text_in_number_task(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(40), "y": ["a", "b", "c", "d"] * 10}).to_csv(path, index=False)
    assert_user_error(fit(path, "y", "--task", "number"), "not a number", "--task one-of-many")


def test_bad_time_budget(small_csv):
    assert_user_error(run_cli("fit", small_csv, "--target", "y", "--time", "0"), "time budget")


def test_fit_without_target(small_csv):
    assert_user_error(run_cli("fit", small_csv), "--target")


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("fit", tmp_path / "nothere.csv", "--target", "y", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


# ---- model folders --------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"size": rng.integers(40, 200, 120), "city": rng.choice(["a", "b", "c"], 120)})
    frame["y"] = frame["size"] * 2 + frame["city"].map({"a": 0, "b": 50, "c": 100}) + rng.normal(0, 5, 120)
    frame.to_csv(folder / "train.csv", index=False)
    result = run_cli("fit", folder / "train.csv", "--target", "y", "--time", "3", "--out", folder / "model")
    assert result.returncode == 0, result.stderr
    return folder


def copy_model(trained, tmp_path):
    import shutil

    shutil.copytree(trained / "model", tmp_path / "model")
    return tmp_path / "model"


def test_existing_folder_is_not_overwritten(trained):
    before = (trained / "model" / "manifest.json").read_text()
    result = run_cli("fit", trained / "train.csv", "--target", "y", "--time", "2", "--out", trained / "model")
    assert_user_error(result, "already exists", "--overwrite")
    assert (trained / "model" / "manifest.json").read_text() == before


def test_overwrite_replaces_atomically(trained, tmp_path):
    model = copy_model(trained, tmp_path)
    result = run_cli("fit", trained / "train.csv", "--target", "y", "--time", "2", "--out", model, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folders left behind


def test_crash_mid_save_leaves_old_model(trained, tmp_path, monkeypatch):
    from mathless.storage import folder as storage

    model_folder = copy_model(trained, tmp_path)
    before = {p.name: p.read_bytes() for p in model_folder.iterdir()}
    model = ml.load(model_folder)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(storage, "write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(model_folder, overwrite=True)
    assert {p.name: p.read_bytes() for p in model_folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_corrupt_manifest(trained, tmp_path):
    model = copy_model(trained, tmp_path)
    (model / "manifest.json").write_text("{ this is not json")
    assert_user_error(run_cli("info", model), "damaged", "not readable json")


def test_tampered_weights(trained, tmp_path):
    model = copy_model(trained, tmp_path)
    weights = sorted(p for p in model.iterdir() if p.name != "manifest.json")[0]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit flipped
    weights.write_bytes(bytes(data))
    assert_user_error(run_cli("predict", model, trained / "train.csv"), "damaged or was edited", weights.name)


def test_truncated_weights(trained, tmp_path):
    model = copy_model(trained, tmp_path)
    weights = sorted(p for p in model.iterdir() if p.name != "manifest.json")[-1]
    weights.write_bytes(weights.read_bytes()[:100])
    assert_user_error(run_cli("evaluate", model, trained / "train.csv"), weights.name)


def test_newer_format(trained, tmp_path):
    model = copy_model(trained, tmp_path)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["format_version"] = 99
    (model / "manifest.json").write_text(json.dumps(manifest))
    assert_user_error(run_cli("info", model), "newer mathless", "upgrade")


def test_not_a_model_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.txt").write_text("meow")
    assert_user_error(run_cli("info", tmp_path / "photos"), "not a mathless model folder")
    assert_user_error(run_cli("predict", tmp_path / "nothere", "x.csv"), "does not exist")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "manifest.json").write_text(json.dumps({"name": "something else"}))
    assert_user_error(run_cli("info", tmp_path / "foreign"), "does not hold a mathless model")


# ---- predict-time checks ----------------------------------------------------

def test_predict_missing_columns_are_named(trained, tmp_path):
    path = tmp_path / "new.csv"
    pd.DataFrame({"size": [50, 60]}).to_csv(path, index=False)
    assert_user_error(run_cli("predict", trained / "model", path), "lacks column 'city'")


def test_predict_notes_extra_columns_unseen_categories_and_wrong_types(trained, tmp_path):
    path = tmp_path / "new.csv"
    pd.DataFrame({
        "size": ["50", "sixty", None, "80"], "city": ["a", "z", None, "b"], "colour": ["red"] * 4,
    }).to_csv(path, index=False)
    result = run_cli("predict", trained / "model", path, "--out", tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    assert "ignored 1 column" in result.stderr and "'colour'" in result.stderr
    assert "column 'size': 1 cells were not numbers" in result.stderr
    assert "column 'city': 1 cells had a label not seen in training (such as 'z')" in result.stderr
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert len(predicted) == 4 and predicted["predicted_y"].notna().all()


def test_evaluate_needs_the_target_column(trained, tmp_path):
    path = tmp_path / "new.csv"
    pd.DataFrame({"size": [50, 60], "city": ["a", "b"]}).to_csv(path, index=False)
    assert_user_error(run_cli("evaluate", trained / "model", path), "no 'y' column", "predict")
