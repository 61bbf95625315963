"""The `mathless` command: every user mistake is one plain message and exit status 2.

Commands are thin: they parse words, call the Python API and print. Heavy
libraries are imported inside the commands so that `mathless --help` is quick.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from mathless.errors import UserError

app = typer.Typer(
    name="mathless",
    help="Machine learning in plain words: tables, games and networks, trained on your laptop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _console(quiet: bool = False):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, highlight=False)


def _parse_roles(pairs: List[str]) -> dict:
    roles = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"--role needs COLUMN=ROLE (for example --role zip=category); got '{pair}'.")
        column, role = pair.split("=", 1)
        roles[column.strip()] = role.strip()
    return roles


def _split_list(values: List[str]) -> list:
    out = []
    for value in values:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


@app.command()
def fit(
    data: Optional[Path] = typer.Argument(None, help="A CSV, Parquet or Excel file with one row per example, or a folder of images with one sub-folder per class."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="The column to predict."),
    time: float = typer.Option(60.0, "--time", help="Time budget for training, in seconds."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to save the model in (default: DATA-model)."),
    task: Optional[str] = typer.Option(None, "--task", help="Force the kind of answer: yes/no, one-of-many or number."),
    ignore: List[str] = typer.Option([], "--ignore", help="Columns to leave out (comma-separated or repeated)."),
    role: List[str] = typer.Option([], "--role", help="Force a column's role, e.g. --role zip=category."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Your own network as layer words, e.g. \"dense 64, dropout 0.2, dense 32\"."),
    network: Optional[Path] = typer.Option(None, "--network", help="Your own network: a YAML file listing layer words."),
    fine_tune: bool = typer.Option(False, "--fine-tune", help="Images: also adjust the pretrained network's last blocks (slower)."),
    seed: int = typer.Option(0, "--seed", help="Random seed, for repeatable results."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output folder if it exists."),
    demo: bool = typer.Option(False, "--demo", help="Use the built-in demo table (penguins) instead of a file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on standard output."),
):
    """Train a model that predicts TARGET from the other columns of DATA."""
    import mathless

    if demo:
        from mathless.data.demo import demo_table

        frame, demo_target = demo_table()
        data, target = frame, target or demo_target
        default_out = Path("demo-model")
    elif data is None:
        raise UserError("Give a data file to learn from, e.g. 'mathless fit houses.csv --target price' (or --demo).")
    else:
        default_out = Path(f"{Path(data).name if Path(data).is_dir() else Path(data).stem}-model")
    if target is None and not (isinstance(data, Path) and data.is_dir()):
        raise UserError("Say which column to predict with --target, e.g. 'mathless fit houses.csv --target price'.")
    out = out or default_out
    from mathless.storage.folder import check_can_write

    check_can_write(out, overwrite)
    options = dict(time_limit=time, task=task, ignore=_split_list(ignore), roles=_parse_roles(role),
                   seed=seed, quiet=quiet or as_json)
    if layers is not None:
        options["layers"] = layers
    if network is not None:
        options["network"] = network
    images = isinstance(data, Path) and data.is_dir()
    if images:  # a checkpoint of the best weights so far survives a crash or Ctrl-C
        options.update(checkpoint=Path(f"{out}-checkpoint"), fine_tune=fine_tune)
    elif fine_tune:
        raise UserError("--fine-tune is for image folders (it adjusts the pretrained photo network).")
    model = mathless.fit(data, target=target, **options)
    model.save(out, overwrite=overwrite)
    if as_json:
        print(json.dumps(model.summary(), indent=2, default=str))
    else:
        new = "NEW-FOLDER/" if images or type(model).__name__ == "ImageModel" else "NEW.csv"
        _console(quiet).print(f"\nSaved the model to '{out}'. Next: mathless predict {out} {new}")


@app.command()
def predict(
    model_folder: Path = typer.Argument(..., metavar="MODEL", help="A folder written by 'mathless fit'."),
    data: Optional[Path] = typer.Argument(None, help="Rows to predict (CSV, Parquet or Excel)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write predictions to this CSV (default: print them)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output file if it exists."),
    demo: bool = typer.Option(False, "--demo", help="Predict the built-in demo table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
):
    """Predict the target for each row of DATA with a saved model."""
    import mathless

    model = mathless.load(model_folder)
    if demo:
        from mathless.data.demo import demo_table

        data = demo_table()[0]
    elif data is None:
        raise UserError("Give the rows to predict, e.g. 'mathless predict house-model new.csv'.")
    console = _console(quiet)
    if out is not None:
        if Path(out).exists() and not overwrite:
            raise UserError(f"'{out}' already exists. Choose another name, or add --overwrite to replace it.")
        report = model.predict_to_file(data, out, console=console)
        console.print(f"Wrote {report['rows']:,} predictions to '{out}'.")
    else:
        frame = model.predict(data, console=console)
        print(frame.to_csv(index=False), end="")


@app.command()
def evaluate(
    model_folder: Path = typer.Argument(..., metavar="MODEL", help="A model folder (from fit) or a run folder (from play)."),
    data: Optional[Path] = typer.Argument(None, help="Rows with the true answers, for a table model."),
    episodes: int = typer.Option(10, "--episodes", help="Games to play, for a game agent."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on standard output."),
):
    """How good is this model? A plain-language verdict on data it has not seen."""
    import mathless
    from mathless.storage.folder import read_manifest

    if read_manifest(model_folder)["kind"] == "agent":
        from mathless.cli.games import evaluate_agent

        evaluate_agent(model_folder, episodes=episodes, as_json=as_json)
        return
    if data is None:
        raise UserError("Give rows with the true answers, e.g. 'mathless evaluate house-model holdout.csv'.")
    model = mathless.load(model_folder)
    result = model.evaluate(data, quiet=as_json)
    if as_json:
        print(json.dumps(result, indent=2, default=str))


@app.command()
def info(
    model_folder: Path = typer.Argument(..., metavar="MODEL", help="A model or run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON on standard output."),
):
    """What is in a model folder: task, columns, learner, and how good it was."""
    from mathless.storage.folder import read_manifest

    manifest = read_manifest(model_folder)
    if as_json:
        print(json.dumps(manifest, indent=2))
        return
    if manifest["kind"] == "agent":
        from mathless.cli.games import info_agent

        info_agent(model_folder)
        return
    if manifest["kind"] == "image":
        from mathless.images.model import print_image_info

        print_image_info(manifest, _console())
        return
    from mathless.evaluation.verdict import print_info

    print_info(manifest, _console())


@app.command()
def report(
    model_folder: Path = typer.Argument(..., metavar="MODEL", help="A folder written by 'mathless fit', or a game agent's run folder from 'mathless play'."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained web page here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the HTML file if it exists."),
    episodes: Optional[int] = typer.Option(None, "--episodes", help="Game agents: games to play to judge it (default 3 for Atari, 10 for small games)."),
):
    """The report of a model or game agent: verdict, the doctor's findings and more (--html for plots).

    For a table or image model: the verdict, learning curves, right and wrong answers, what
    mattered most, the worst mistakes and the doctor's findings. For a game agent: the score
    over training, how it plays against random play and the human tester, frames of one
    game, and the doctor's findings.
    """
    import mathless

    model = mathless.load(model_folder)
    options = {}
    if episodes is not None:
        if type(model).__name__ != "Agent":
            raise UserError("--episodes is for game agents (run folders from 'mathless play'); leave it out for this model.")
        options["episodes"] = episodes
    written = model.report(html=html, overwrite=overwrite, **options)
    if written:
        _console().print(f"Wrote the report to '{written}'. Open it in a browser.")


@app.command()
def explain(
    model_folder: Path = typer.Argument(..., metavar="MODEL", help="A folder written by 'mathless fit', or a game agent's run folder from 'mathless play'."),
    data: Optional[Path] = typer.Argument(None, metavar="DATA", help="A file with the row to explain; for an image model a picture or a folder of them; leave it out for a game agent."),
    row: int = typer.Option(1, "--row", help="Which row (1 = the first row after the header); for images, which picture (in name order); for a game agent, which move of the game."),
    as_json: bool = typer.Option(False, "--json", help="Print the explanation as JSON on standard output."),
):
    """Why a model answers what it does for one row or picture (or a game agent makes one move), and the network's arithmetic.

    For an image model: the class chances, which part of the picture mattered, and the
    network's arithmetic layer by layer. For a game agent: it plays a game up to move --row, then shows its move chances, what
    in the picture (or which numbers) mattered, and its network's arithmetic there.
    """
    import mathless

    model = mathless.load(model_folder)
    if data is None and type(model).__name__ == "ImageModel":
        raise UserError(f"Give the picture to explain (or a folder and --row), e.g. 'mathless explain {model_folder} photos/cat/1.jpg'.")
    if data is None and type(model).__name__ != "Agent":
        raise UserError(f"Give a file with the row to explain, e.g. 'mathless explain {model_folder} holdout.csv --row 12'.")
    result = model.explain(data, row=row, quiet=as_json)
    if as_json:
        print(json.dumps(result, indent=2, default=str))


from mathless.cli import games as _games  # noqa: E402  (registers play, watch, games)

_games.register(app)


def run() -> None:
    """Entry point: run the app; a UserError becomes a plain message and exit 2."""
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except UserError as error:
        if debug:
            raise
        sys.stderr.write(f"mathless: {error}\n")
        sys.exit(UserError.exit_code)
