"""The report for a game agent: a terminal summary and one self-contained HTML page.

It shows how training went (score against minutes and against frames, with the
running mean and the random-play and human reference lines), how the agent plays
now (a short evaluation against random play and the human tester, in words and
as bars), a few frames of one game it plays, and the doctor's findings. The page
has no scripts and loads nothing from the network; the plots are embedded PNGs.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from mathless.errors import UserError
from mathless.evaluation.report import (_png, _table, check_page_path, doctor_html, page_start, print_findings,
                                        write_page)
from mathless.games.doctor import CHECKS, duration, goal, points, window

DEFAULT_EPISODES = {"atari": 3, "gymnasium": 10}  # a few seconds on small games, under a minute on Pong
FRAMES_SHOWN = 6
FRAMES_SEED = 7  # the game 'mathless watch' records by default
FRAMES_MOVES = {"atari": 2_000, "gymnasium": 500}  # the longest stretch of one game the frames are picked from


def report(agent, html=None, overwrite: bool = False, quiet: bool = False, episodes: int | None = None):
    """Print the summary; with ``html`` also write the page. Returns the page's path or None."""
    from rich.console import Console

    if episodes is None:
        episodes = DEFAULT_EPISODES[agent.game.family]
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise UserError(f"episodes must be a whole number of at least 1 (got {episodes!r}).")
    path = Path(html) if html is not None else None
    if path is not None:
        check_page_path(path, overwrite)  # before minutes of playing, not after
    console = Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)
    console.print(f"[bold]Report: {agent.game.name} played by a {agent.algorithm.upper()} agent[/bold]")
    for line in training_lines(agent):
        console.print(line, markup=False)
    console.print(f"Playing {episodes} game{'s' if episodes != 1 else ''} to judge it now ...", markup=False)
    evaluation = agent.evaluate(episodes=episodes)
    console.print(f"Verdict: {evaluation['verdict']}", markup=False)
    console.print(f"How it was measured: {evaluation['protocol']}.", markup=False)
    findings = agent.findings()
    print_findings(findings, console, CHECKS)
    if path is None:
        return None
    return write_page(path, render_html(agent, evaluation, findings))


def training_lines(agent) -> list:
    """How long it trained and how the score moved, in a few sentences."""
    frames = agent.steps * agent.frames_per_step
    lines = [f"Training: {agent.minutes:.1f} minutes, {agent.steps:,} moves ({frames:,} frames), "
             f"{len(agent.history):,} games finished."]
    scores = np.array([score for _, _, score in agent.history])
    if len(scores) == 0:
        lines.append("No game finished during training yet, so there is no score curve.")
        return lines
    size = min(window(len(scores)), len(scores))
    first, last = scores[:size].mean(), scores[-size:].mean()
    if len(scores) <= size:
        lines.append(f"Score during training: the {len(scores)} games averaged {points(last)}; "
                     f"best game {points(scores.max())}.")
    else:
        trend = "up" if last > first else "down" if last < first else "level"
        lines.append(f"Score during training: the first {size} games averaged {points(first)}, the last {size} "
                     f"{points(last)} ({trend}); best game {points(scores.max())}.")
    if agent.kept:
        lines.append(kept_text(agent.kept))
    return lines


def kept_text(kept: dict) -> str:
    return (f"The saved network is the one from {duration(kept['minutes'])} of training ({kept['agent_steps']:,} moves), "
            f"when {kept['games']} games in a row averaged {points(kept['score'])}; training went on but the last "
            f"{kept['games']} games averaged {points(kept['last_score'])}, so that later network was not kept.")


# ---- plots ---------------------------------------------------------------------

def _levels(agent, evaluation) -> list:
    """Reference scores drawn as dashed lines: random play, and the human tester or 'solved'."""
    levels = [("random play", evaluation["random_play"])]
    target = goal(agent.game)
    if target:
        levels.append(("human tester" if agent.game.reference() else "solved (Gymnasium)", target[0]))
    return levels


def _evaluation_bars(agent, evaluation) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["random play", "this agent"]
    values = [evaluation["random_play"], evaluation["mean"]]
    colours = ["#b0b0b0", "#4a7ab5"]
    if "human_tester" in evaluation:
        names.append("human tester")
        values.append(evaluation["human_tester"])
        colours.append("#5aa05a")
    figure, axis = plt.subplots(figsize=(5.5, 0.55 * len(names) + 1))
    axis.barh(names[::-1], values[::-1], color=colours[::-1])
    axis.errorbar([evaluation["mean"]], ["this agent"], xerr=[evaluation["spread"]], color="black", capsize=4)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel(f"mean score over {evaluation['episodes']} games (the line: typical spread)")
    axis.set_title("How it plays now")
    return _png(figure)


def _frame_strip(agent):
    """A few pictures of one game, evenly spread over it: (PNG, the move numbers shown), or (None, why not)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    limit = FRAMES_MOVES[agent.game.family]
    every = 10 if agent.game.family == "atari" else 2  # keep memory small: pick from every 10th picture
    agent.network.eval()
    try:
        frames = agent._frames(FRAMES_SEED, limit, every=every)
    except UserError as error:  # a small game whose drawing library is missing: the page says so
        return None, str(error)
    if not frames:
        return None, f"{agent.game.name} produced no pictures."
    picks = sorted(set(np.linspace(0, len(frames) - 1, min(FRAMES_SHOWN, len(frames))).round().astype(int)))
    moves = [int(i * every) for i in picks]  # picture i shows the game after move i x every
    figure, axes = plt.subplots(1, len(picks), figsize=(2.2 * len(picks), 3), squeeze=False)
    for axis, index, move in zip(axes[0], picks, moves):
        axis.imshow(np.asarray(frames[index], dtype=np.uint8))
        axis.set_title("the start" if move == 0 else f"after move {move:,}", fontsize="small")
        axis.axis("off")
    figure.tight_layout()
    return _png(figure), moves


# ---- HTML ----------------------------------------------------------------------

def render_html(agent, evaluation, findings) -> str:
    from mathless.games.agent import curve_figure

    e = html.escape
    title = f"{agent.game.name} ({agent.algorithm.upper()})"
    size = window(len(agent.history))
    curve = _png(curve_figure(agent.history, agent.frames_per_step, title, levels=_levels(agent, evaluation),
                              window=size))
    bars = _evaluation_bars(agent, evaluation)
    strip, moves = _frame_strip(agent)
    move_length = "4 frames" if agent.frames_per_step == 4 else "1 step"
    parts = page_start(title, f"{agent.game.name}, played by a {agent.algorithm.upper()} agent") + [
        f"<p class='muted'>{e(' '.join(training_lines(agent)))}</p>",
        f"<p class='verdict'>{e(evaluation['verdict'])}</p>",
        f"<p class='muted'>How it was measured: {e(evaluation['protocol'])}. Random play: "
        f"{e(evaluation['random_play_source'])}.</p>",
        f"<img alt='the agent against random play and the human tester' src='data:image/png;base64,{bars}'>",
        _table(["game", *range(1, len(evaluation["scores"]) + 1)], [["score", *map(points, evaluation["scores"])]]),
    ]
    parts += doctor_html(findings, CHECKS)
    target = goal(agent.game)
    levels = f"random play ({points(evaluation['random_play'])})" + (
        f" and {target[1]} ({points(target[0])})" if target else "")
    parts.append(f"<h2>Score during training</h2><p>Each dot is one game played while learning; the line is the "
                 f"mean of the last {size} games (the line the doctor reads). Dashed lines: {e(levels)}. Left: "
                 f"against minutes of training; right: against frames of the game seen (a move lasts "
                 f"{move_length}).</p>")
    parts.append(f"<img alt='score during training' src='data:image/png;base64,{curve}'>")
    parts.append("<h2>Frames of play</h2>")
    if strip:
        parts.append("<p>Pictures from one game the agent plays now (the same game 'mathless watch' records), "
                     f"from the start to move {moves[-1]:,}.</p>")
        parts.append(f"<img alt='frames of play' src='data:image/png;base64,{strip}'>")
    else:
        parts.append(f"<p class='muted'>No pictures: {e(moves)}</p>")
    if agent.settings:
        parts.append("<h2>Settings it learned with</h2>")
        parts.append(_table(["setting", "value"], [[k, v] for k, v in agent.settings.items()]))
    parts.append("<p class='muted'>Made by mathless. Why the agent makes a given move: "
                 f"mathless explain {e(str(agent.folder or 'RUN'))} --row 100.</p></body></html>")
    return "\n".join(parts)
