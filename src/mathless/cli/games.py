"""Game commands: `mathless games`, `mathless play`, `mathless watch`.

Also the agent halves of `mathless evaluate` and `mathless info` (main.py calls
them when a folder holds a game agent); `mathless report` and `mathless explain`
call the agent's own report and explain methods. Heavy libraries load inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from mathless.errors import UserError


def _say(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


def games_command(
    as_json: bool = typer.Option(False, "--json", help="Print the lists as JSON on standard output."),
):
    """List the Atari games and Gymnasium environments you can play."""
    import mathless.games  # noqa: F401  (sets up the environment before heavy imports)
    from mathless.games.catalog import REFERENCE_SCORES, SMALL_GAMES, _camel, atari_games, gymnasium_ids

    atari = [_camel(rom) for rom in atari_games()]
    others = gymnasium_ids()
    small = [name for name in SMALL_GAMES if name in others]
    if as_json:
        print(json.dumps({"atari": atari, "small_games": small, "gymnasium": others}, indent=2))
        return
    print(f"Atari games ({len(atari)}), e.g. 'mathless play Pong'. * = human and random reference scores known:")
    names = [name + ("*" if rom in REFERENCE_SCORES else "") for name, rom in zip(atari, atari_games())]
    width = max(len(n) for n in names) + 2
    for start in range(0, len(names), 4):
        print("  " + "".join(n.ljust(width) for n in names[start:start + 4]).rstrip())
    print(f"\nSmall Gymnasium games known to work: {', '.join(small)} "
          f"(LunarLander needs: pip install 'gymnasium[box2d]').")
    print(f"\nAll registered Gymnasium environments ({len(others)}). mathless learns those with a list "
          f"of moves and a short list of numbers as state, and says why it refuses the others:")
    for start in range(0, len(others), 4):
        print("  " + "".join(n.ljust(30) for n in others[start:start + 4]).rstrip())


def play_command(
    game: str = typer.Argument(..., help="An Atari game (Pong, Breakout, SpaceInvaders ...) or a Gymnasium id (CartPole-v1)."),
    minutes: Optional[float] = typer.Option(None, "--minutes", "-m", help="Minutes to train (default 60 for Atari, 2 for small games)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Stop after this many agent moves instead (or whichever comes first)."),
    until_score: Optional[float] = typer.Option(None, "--until-score", help="Stop sooner once the mean of the last 100 games reaches this score (Pong: 18)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder to save into (default: runs/GAME)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the run saved in this folder, with its score history."),
    algorithm: Optional[str] = typer.Option(None, "--algorithm", help="dqn or ppo (default: dqn for Atari games, ppo for small games; a resumed run keeps its own)."),
    seed: int = typer.Option(0, "--seed", help="Random seed, for repeatable runs."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run folder if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
):
    """Train an agent to play GAME; it is saved as it learns (Ctrl-C stops and saves)."""
    import mathless.games  # noqa: F401
    from mathless.games.catalog import find_game
    from mathless.games.play import _slug, play

    if resume is None and out is None:
        out = Path("runs") / _slug(find_game(game).name)
        if out.exists() and not overwrite:
            raise UserError(
                f"'{out}' already holds a run. Continue it with 'mathless play {game} --resume {out}', "
                f"replace it with --overwrite, or choose another folder with --out."
            )
    agent = play(game, minutes=minutes, steps=steps, out=out, resume=resume, algorithm=algorithm,
                 quiet=quiet, seed=seed, until_score=until_score, overwrite=overwrite)
    where = out or resume
    if not quiet:
        _say(f"Saved to '{where}'. Next: mathless evaluate {where}   or   mathless watch {where} --out {Path(str(where)).name}.mp4")
    return agent


def watch_command(
    run: Path = typer.Argument(..., metavar="RUN", help="A run folder written by 'mathless play'."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Video (.mp4) or animated picture (.gif) to write (default: RUN.mp4)."),
    seconds: float = typer.Option(300.0, "--seconds", help="Longest video, in seconds of play."),
    seed: int = typer.Option(7, "--seed", help="Random seed of the game shown."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output file if it exists."),
):
    """Record a video or GIF of the agent playing one game."""
    import mathless.games  # noqa: F401
    from mathless.games.agent import Agent

    if out is None:
        out = Path(f"{Path(run).name or 'agent'}.mp4")
    if Path(out).suffix.lower() not in (".gif", ".mp4"):
        raise UserError(f"Can write a .gif or an .mp4, not '{out}'. Give a name ending in .gif or .mp4.")
    if Path(out).exists() and not overwrite:
        raise UserError(f"'{out}' already exists. Choose another name, or add --overwrite to replace it.")
    if not seconds > 0:
        raise UserError(f"--seconds must be above 0 (got {seconds}).")
    agent = Agent.load(run)
    path = agent.watch(out, seed=seed, max_seconds=seconds, overwrite=True)
    _say(f"Wrote '{path}' ({path.stat().st_size / 1e6:.1f} MB).")


def evaluate_agent(folder, episodes: int = 10, as_json: bool = False) -> dict:
    """`mathless evaluate RUN`: play whole games and judge the score in plain words."""
    import mathless.games  # noqa: F401
    from mathless.games.agent import Agent

    if episodes < 1:
        raise UserError(f"--episodes must be at least 1 (got {episodes}).")
    agent = Agent.load(folder)
    if not as_json:
        _say(f"Playing {episodes} games of {agent.game.name} ...")
    result = agent.evaluate(episodes=episodes)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(result["verdict"])
        print(f"How it was measured: {result['protocol']}.")
    return result


def info_agent(folder) -> None:
    """`mathless info RUN`: what the run folder holds, without loading the network."""
    from mathless.storage.folder import read_manifest

    manifest = read_manifest(folder, expected_kind="agent")
    game = manifest.get("game", {}).get("name", "?")
    print(f"Game agent for {game}, trained with {str(manifest.get('algorithm', '?')).upper()}.")
    print(f"Training: {manifest.get('minutes_trained', 0):.1f} minutes, {manifest.get('agent_steps', 0):,} moves "
          f"({manifest.get('frames', 0):,} frames), {manifest.get('games_played', 0):,} games played.")
    recent = manifest.get("recent_score")
    if recent is not None:
        print(f"Score during training: mean of the last {min(100, manifest.get('games_played', 0))} games "
              f"{recent:.1f}; best game {manifest.get('best_game_score')}.")
    print(f"Learning curve: {Path(folder) / 'curve.png'} (data in curve.csv).")
    print(f"Next: mathless evaluate {folder}   or   mathless watch {folder} --out {Path(folder).name}.mp4"
          f"   or   mathless report {folder} --html {Path(folder).name}.html")


def register(app) -> None:
    app.command("games")(games_command)
    app.command("play")(play_command)
    app.command("watch")(watch_command)
