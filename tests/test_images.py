"""Image folders to models, through the CLI and the API, on real image files (broken ones included)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_cli


def _digit_folder(root, per_class=40, classes=range(10)):
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts = dict.fromkeys(classes, 0)
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        if label in counts and counts[label] < per_class:
            folder = root / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 16).clip(0, 255).astype(np.uint8)).save(folder / f"{i}.png")
            counts[label] += 1
    return root


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """Digit images in class folders, with the broken files a real folder gathers."""
    root = tmp_path_factory.mktemp("digits")
    train = _digit_folder(root / "train", per_class=40)
    _digit_folder(root / "test", per_class=8)
    (train / "3" / "notes.txt").write_text("these are threes")
    (train / "5" / "empty.png").write_bytes(b"")
    photo = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(photo, "JPEG")
    (train / "7" / "cut-short.jpg").write_bytes(photo.getvalue()[: len(photo.getvalue()) // 2])
    (train / ".DS_Store").write_bytes(b"\x00\x01")
    return root


@pytest.fixture(scope="session")
def digit_model(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "digit-model"
    result = run_cli("fit", digits / "train", "--time", "6", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """Colour photo crops in three classes, in every awkward format: grayscale, RGBA, palette, EXIF-rotated, odd sizes."""
    import skimage.data

    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    for name in ("chelsea", "coffee", "rocket"):
        photo = getattr(skimage.data, name)()
        for part, count in (("train", 14), ("test", 6)):
            folder = root / part / name
            folder.mkdir(parents=True)
            for i in range(count):
                side = int(rng.integers(60, 200))
                x, y = int(rng.integers(0, photo.shape[1] - side)), int(rng.integers(0, photo.shape[0] - side))
                crop = Image.fromarray(photo[y:y + side, x:x + side + int(rng.integers(0, 40))])
                kind = i % 5
                if kind == 0:
                    crop.save(folder / f"{i}.jpg", quality=90)
                elif kind == 1:
                    crop.convert("RGBA").save(folder / f"{i}.png")
                elif kind == 2:
                    crop.convert("P", palette=Image.ADAPTIVE).save(folder / f"{i}.gif")
                elif kind == 3:
                    exif = Image.Exif()
                    exif[0x0112] = 6  # stored sideways: viewers turn it a quarter
                    crop.save(folder / f"{i}.jpg", exif=exif, quality=90)
                else:
                    crop.convert("L").save(folder / f"{i}.png")
    return root


# ---- reading images ---------------------------------------------------------------------

def test_every_kind_of_image_file_reads_as_the_same_square_array(tmp_path):
    from mathless.images.read import open_image

    rng = np.random.default_rng(0)
    base = Image.fromarray((rng.random((30, 50, 3)) * 255).astype(np.uint8))
    base.save(tmp_path / "plain.png")
    base.convert("RGBA").save(tmp_path / "rgba.png")
    base.convert("P").save(tmp_path / "palette.gif")
    base.convert("L").save(tmp_path / "grey.png")
    Image.fromarray((rng.random((30, 50)) * 65535).astype(np.uint16)).save(tmp_path / "sixteen.png")
    Image.fromarray((rng.random((7, 113, 3)) * 255).astype(np.uint8)).save(tmp_path / "odd.bmp")
    for name in ("plain.png", "rgba.png", "palette.gif", "grey.png", "sixteen.png", "odd.bmp"):
        for channels in (1, 3):
            array = open_image(tmp_path / name, channels, 24)
            assert array.shape == (channels, 24, 24) and array.dtype == np.uint8, name
    assert np.array_equal(open_image(tmp_path / "plain.png", 3, 24), open_image(tmp_path / "rgba.png", 3, 24))


def test_exif_rotation_is_applied(tmp_path):
    from mathless.images.read import open_image

    upright = np.zeros((40, 20, 3), dtype=np.uint8)
    upright[:20] = 255  # white top half
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90° clockwise to view"
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.png", exif=exif)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    assert np.array_equal(open_image(tmp_path / "sideways.png", 1, 16), open_image(tmp_path / "upright.png", 1, 16))


# ---- fit, predict, evaluate, info through the command line ---------------------------------

def test_fit_a_folder_skips_and_lists_broken_files(digit_model):
    out, result = digit_model
    message = result.stderr
    for name in ("notes.txt", "empty.png", "cut-short.jpg"):
        assert name in message, message
    assert "from scratch" in message
    assert "Traceback" not in message
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "image" and manifest["classes"] == [str(i) for i in range(10)]
    assert manifest["metrics"]["accuracy"] > 0.8
    assert "weights.safetensors" in manifest["files"]
    assert not any(p.suffix in (".pkl", ".pt", ".pth") for p in out.iterdir())


def test_predict_names_each_file_with_class_and_confidence(digit_model, digits, tmp_path):
    out, _ = digit_model
    result = run_cli("predict", out, digits / "test")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 80
    assert set(rows[0]) == {"file", "predicted_class", "confidence"}
    right = sum(row["file"].split("/")[0] == row["predicted_class"] for row in rows)
    assert right / len(rows) > 0.8
    assert all(0 <= float(row["confidence"]) <= 1 for row in rows)

    target = tmp_path / "predictions.csv"
    assert run_cli("predict", out, digits / "test", "--out", target).returncode == 0
    assert len(target.read_text().splitlines()) == 81


def test_evaluate_gives_the_verdict_against_guessing(digit_model, digits):
    out, _ = digit_model
    result = run_cli("evaluate", out, digits / "test")
    assert result.returncode == 0, result.stderr
    assert "times in 100" in result.stderr and "always answering" in result.stderr
    scored = json.loads(run_cli("evaluate", out, digits / "test", "--json").stdout)
    assert scored["rows"] == 80 and scored["metrics"]["accuracy"] > 0.8
    assert scored["baseline"]["accuracy"] < 0.2


def test_load_predict_one_file_save_again(digit_model, digits):
    import mathless
    from rich.console import Console

    from mathless.images.model import print_image_info

    out, _ = digit_model
    model = mathless.load(out)
    assert "ImageModel" in repr(model)
    one = next((digits / "test" / "4").iterdir())
    frame = model.predict(one)
    assert list(frame.columns) == ["file", "predicted_class", "confidence"] and frame["file"][0] == one.name
    assert len(model.predict([one, one])) == 2
    assert model.summary()["approach"] == "scratch"
    again = mathless.load(model.save(out.parent / "copy"))
    assert np.allclose(again.predict(digits / "test")["confidence"], model.predict(digits / "test")["confidence"])
    with pytest.raises(mathless.UserError, match="already exists"):
        model.save(out.parent / "copy")
    console = Console(record=True, width=120)
    print_image_info(json.loads((out / "manifest.json").read_text()), console)
    shown = console.export_text()
    assert "numbers it learns" in shown and "conv 32" in shown and "held-out images" in shown


def test_your_own_layers_from_the_command_line(digits, tmp_path):
    words = "conv 16, batchnorm, pool, flatten, dense 32, dropout 0.1"
    result = run_cli("fit", digits / "train", "--time", "4", "--layers", words, "--out", tmp_path / "m1")
    assert result.returncode == 0, result.stderr
    assert "your own network" in result.stderr and "conv 16" in result.stderr
    manifest = json.loads((tmp_path / "m1" / "manifest.json").read_text())
    assert manifest["network"]["words"] == ["conv 16", "batchnorm", "pool", "flatten", "dense 32", "dropout 0.1"]


def test_layer_mistakes_are_explained_before_any_training(digits, tmp_path):
    wrong = run_cli("fit", digits / "train", "--layers", "conv 16, dense 32", "--out", tmp_path / "m3")
    assert_user_error(wrong, "layer 2", "dense 32", "flatten")
    assert not (tmp_path / "m3").exists()
    (tmp_path / "net.yaml").write_text("layers:\n  - conv 8\n  - pol\n")
    assert_user_error(run_cli("fit", digits / "train", "--network", tmp_path / "net.yaml", "--out", tmp_path / "m4"),
                      "layer 2", "did you mean 'pool'")


def test_a_yaml_network_through_the_api(digits, tmp_path):
    import mathless

    (tmp_path / "net.yaml").write_text("- conv 8\n- pool\n- flatten\n- dense 16\n")
    model = mathless.fit(digits / "train", network=tmp_path / "net.yaml", time_limit=3, quiet=True)
    assert model.approach == "yours" and model.words == ["conv 8", "pool", "flatten", "dense 16"]


def test_transfer_learning_on_photos_of_every_format(photos, tmp_path):
    from mathless.networks.mobilenet import pretrained_weights

    out = tmp_path / "photo-model"
    result = run_cli("fit", photos / "train", "--time", "10", "--out", out)
    assert result.returncode == 0, result.stderr
    state, _ = pretrained_weights()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["approach"] == ("transfer" if state is not None else "scratch")
    if state is not None:
        assert "MobileNetV2" in result.stderr and manifest["network"]["words"][0] == "mobilenet_v2"
        info = run_cli("info", out)
        shown = " ".join((info.stdout + info.stderr).split())
        assert info.returncode == 0 and "come pretrained" in shown and "pretrained)" in shown  # not counted as learned
    scored = json.loads(run_cli("evaluate", out, photos / "test", "--json").stdout)
    assert scored["rows"] == 18 and scored["metrics"]["accuracy"] >= 0.6


def test_from_scratch_on_photos_through_the_api(photos):
    import mathless

    model = mathless.fit(photos / "train", time_limit=4, pretrained=False, quiet=True)
    assert model.approach == "scratch" and model.input_shape[0] == 3
    assert len(model.predict(photos / "test")) == 18


def test_a_table_of_image_paths(photos, tmp_path):
    import pandas as pd

    from mathless.images.fit import fit_images

    rows = [{"picture": str(p.relative_to(photos)), "kind": p.parent.name}
            for p in sorted((photos / "train").rglob("*")) if p.is_file()]
    table = tmp_path / "labels.csv"
    frame = pd.DataFrame(rows)
    frame.to_csv(table, index=False)
    (tmp_path / "train").symlink_to(photos / "train")
    model = fit_images(table, target="kind", time_limit=3, pretrained=False, quiet=True)
    assert model.target == "kind" and sorted(model.classes) == ["chelsea", "coffee", "rocket"]
    predicted = model.predict(frame.assign(picture=[str(photos / r) for r in frame["picture"]]))
    assert "predicted_kind" in predicted.columns and len(predicted) == len(frame)


# ---- mistakes get one plain sentence and exit 2 ---------------------------------------------

def test_a_single_class_is_a_plain_error(tmp_path):
    _digit_folder(tmp_path / "only", per_class=20, classes=[1])
    assert_user_error(run_cli("fit", tmp_path / "only", "--out", tmp_path / "m"), "only one class", "'1'", "sub-folder")


def test_loose_images_without_class_folders(tmp_path):
    folder = tmp_path / "loose"
    folder.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 20), (i * 20, 0, 0)).save(folder / f"{i}.png")
    assert_user_error(run_cli("fit", folder, "--out", tmp_path / "m"), "not sorted into classes", "sub-folder")


def test_a_class_with_few_images_is_warned_about(tmp_path):
    import mathless

    root = _digit_folder(tmp_path / "few", per_class=30, classes=[0, 1])
    for extra in list((root / "1").iterdir())[3:]:
        extra.unlink()
    model = mathless.fit(root, time_limit=2, quiet=True)
    assert any("very few images" in note and "'1' (3)" in note for note in model.data["notes"])


def test_missing_things_are_plain_errors(digit_model, tmp_path):
    out, _ = digit_model
    assert_user_error(run_cli("predict", out, tmp_path / "nowhere"), "does not exist")
    assert_user_error(run_cli("evaluate", out, tmp_path / "nowhere"), "does not exist")


def test_fine_tuning_the_pretrained_network_saves_and_loads(photos, tmp_path):
    import mathless
    from mathless.networks.mobilenet import pretrained_weights

    assert pretrained_weights()[0] is not None, "the Makefile installs the offline MobileNetV2 weights"
    model = mathless.fit(photos / "train", time_limit=20, fine_tune=True, quiet=True)
    assert model.approach == "transfer"
    notes = model.evaluation["training"]["notes"]
    assert any(note.startswith(("Fine-tuned the last", "Fine-tuning MobileNetV2's last blocks did not help")) for note in notes), notes
    again = mathless.load(model.save(tmp_path / "tuned"))
    info = run_cli("info", tmp_path / "tuned")
    assert info.returncode == 0 and "Fine-tun" in info.stdout + info.stderr  # the pretrained part's table row is not the whole story
    assert np.allclose(again.predict(photos / "test")["confidence"], model.predict(photos / "test")["confidence"], atol=1e-4)


def test_info_shows_the_network_layer_by_layer(digit_model):
    out, _ = digit_model
    result = run_cli("info", out)
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr
    assert "numbers it learns" in shown and "conv 32" in shown


def test_a_checkpoint_is_a_loadable_model_while_training(digits, tmp_path, monkeypatch):
    import mathless
    from mathless.images import fit as image_fit

    seen = []
    real_writer = image_fit._checkpoint_writer

    def watching(folder, *args):
        save = real_writer(folder, *args)

        def save_and_look(*inner):
            save(*inner)
            seen.append(mathless.load(folder).predict(digits / "test" / "1"))
        return save_and_look

    monkeypatch.setattr(image_fit, "_checkpoint_writer", watching)
    from mathless.networks import training

    monkeypatch.setattr(training, "train", _with_frequent_checkpoints(training.train))
    model = mathless.fit(digits / "train", time_limit=4, checkpoint=tmp_path / "checkpoint", quiet=True)
    assert seen and len(seen[-1]) == 8
    assert not (tmp_path / "checkpoint").exists()  # removed once training ended well
    assert model.metrics["accuracy"] > 0.5


def _with_frequent_checkpoints(train):
    def frequent(*args, **kwargs):
        return train(*args, **dict(kwargs, checkpoint_every=0.0))
    return frequent


# ---- report, doctor and explain for image models -------------------------------------------

def test_image_report_in_the_terminal_and_a_real_browser(digit_model, tmp_path):
    from conftest import screenshot_in_chromium

    out, _ = digit_model
    page = tmp_path / "digits.html"
    result = run_cli("report", out, "--html", page)
    assert result.returncode == 0, result.stderr
    assert "Report: telling apart 10 classes of images" in result.stderr
    assert "Where it looks" in result.stderr and "Per answer (held-out images)" in result.stderr
    text = page.read_text()
    for heading in ("The doctor", "The data", "The network", "Learning curves", "Right and wrong answers",
                    "Per answer", "What mattered most", "The worst mistakes"):
        assert f"<h2>{heading}</h2>" in text, heading
    assert text.count("src='data:image/png;base64,") >= 10 + 4  # an example per class, plots, mistakes
    assert "<script" not in text and "http://" not in text and "https://" not in text
    pixels, console = screenshot_in_chromium(page, tmp_path)
    assert console == [], console
    assert (pixels[..., 2] - pixels[..., 0] > 60).mean() > 0.005  # the blue plots are drawn
    dark = (pixels.sum(axis=2) < 150).mean()
    assert dark > 0.01  # text and the digits' black backgrounds


def test_explain_a_picture_with_numbers_that_add_up(digit_model, digits):
    """The chances match predict's; the map, the layers and a training step are all there."""
    out, _ = digit_model
    result = run_cli("explain", out, digits / "test", "--row", "3", "--json")
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    assert abs(sum(explained["chances"].values()) - 1) < 1e-3
    assert explained["truth"] == explained["file"].split("/")[0]  # the class folder it sits in
    import mathless

    predicted = mathless.load(out).predict(digits / "test" / explained["file"]).iloc[0]
    assert predicted["predicted_class"] == explained["answer"]
    assert abs(predicted["confidence"] - explained["chances"][explained["answer"]]) < 1e-3
    text = "\n".join(explained["why"] + explained["network"])
    assert "falls most when the" in text and "Convolution 1:" in text and "pool: keeps the largest" in text
    assert "Softmax turns the output scores into chances" in text and "One training step" in text
    assert len(explained["patch_drops"]) == 7


def test_explain_of_a_picture_checks_its_input(digit_model, digits, tmp_path):
    out, _ = digit_model
    assert_user_error(run_cli("explain", out, digits / "test", "--row", "999"), "image 999 does not exist")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert_user_error(run_cli("explain", out, tmp_path / "broken.png"), "could not be read")


def _image_findings(folder, **options):
    import mathless

    model = mathless.fit(folder, time_limit=options.pop("time_limit", 4), quiet=True, **options)
    return model, {f["check"] for f in model.findings()}


def test_image_doctor_is_quiet_on_clean_digits(digit_model):
    import mathless

    model = mathless.load(digit_model[0])
    assert model.findings() == [], model.findings()


def test_image_doctor_finds_copies_shared_by_training_and_held_out(tmp_path):
    import shutil

    folder = _digit_folder(tmp_path / "twice", per_class=12, classes=range(5))
    for file in list(folder.glob("*/*.png")):
        for copy in range(3):
            shutil.copy(file, file.with_name(f"{file.stem}-copy{copy}.png"))
    _, found = _image_findings(folder)
    assert "duplicates" in found


def test_image_doctor_finds_imbalance_and_too_few_images(tmp_path):
    folder = _digit_folder(tmp_path / "uneven", per_class=60, classes=(0, 1))
    for file in sorted((folder / "1").glob("*.png"))[6:]:
        file.unlink()
    _, found = _image_findings(folder)
    assert {"class imbalance", "too little data"} <= found


def test_image_doctor_finds_underfitting_when_the_pictures_say_nothing(tmp_path):
    picture = Image.fromarray((np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8))
    for label, count in (("a", 60), ("b", 40)):
        (tmp_path / "same" / label).mkdir(parents=True)
        for i in range(count):
            picture.save(tmp_path / "same" / label / f"{i}.png")
    model, found = _image_findings(tmp_path / "same")
    assert "underfitting" in found and model.metrics["accuracy"] <= model.baseline["accuracy"]


def test_image_doctor_finds_overfitting(tmp_path):
    """Six pictures per class, a third of them filed under the wrong digit, and a big network without
    convolutions: it learns the training pictures, wrong labels and all, by heart, which no rule can carry
    over to pictures it never saw (with every label right, a lucky held-out draw once scored 0.9)."""
    folder = _digit_folder(tmp_path / "few", per_class=6)
    for i, file in enumerate(sorted(folder.glob("*/*.png"))):
        if i % 3 == 0:
            file.rename(folder / str((int(file.parent.name) + 1) % 10) / file.name)
    model, found = _image_findings(folder, layers=["flatten", "dense 512", "dense 512"], time_limit=5)
    assert model.insights["training_metrics"]["accuracy"] >= model.metrics["accuracy"] + 0.1
    assert "overfitting" in found


def test_predict_says_when_pictures_drift_from_training(digit_model, digits, tmp_path):
    out, _ = digit_model
    calm = run_cli("predict", out, digits / "test")
    assert calm.returncode == 0 and "Drift" not in calm.stderr
    for file in (digits / "test").glob("*/*.png"):  # the same digits, black on white
        inverted = tmp_path / "inverted" / file.parent.name / file.name
        inverted.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - np.asarray(Image.open(file))).save(inverted)
    shifted = run_cli("predict", out, tmp_path / "inverted")
    assert shifted.returncode == 0, shifted.stderr
    assert "Drift: these pictures are mostly brighter than the training pictures" in " ".join(shifted.stderr.split())
