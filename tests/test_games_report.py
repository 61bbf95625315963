"""The verdict for game agents: report, doctor and explain, through the CLI and the Python API.

Two real runs are trained once (CartPole for a few seconds, Pong for 2,048 moves); the
doctor's checks are also shown histories built to have each problem, and healthy ones.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_user_error, run_cli, screenshot_in_chromium

import mathless as ml


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("games-report") / "cartpole"
    result = run_cli("play", "CartPole-v1", "--steps", 20000, "--out", run, "--quiet")
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory):
    """Pong for 2,048 moves: no game finishes in that time, which the report must handle too."""
    run = tmp_path_factory.mktemp("games-report") / "pong"
    result = run_cli("play", "Pong", "--algorithm", "ppo", "--steps", 2048, "--out", run, "--quiet")
    assert result.returncode == 0, result.stderr
    return run


def coloured_pixels(pixels) -> int:
    """Pixels that are neither white nor gray: plots and pictures, not text."""
    spread = pixels.max(axis=2) - pixels.min(axis=2)
    return int((spread > 40).sum())


def assert_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "src='http" not in text and 'src="http' not in text and "url(" not in text
    return text


def assert_network_sums_add_up(layers):
    """Each weighted sum shown is exact: its terms, the rest and the bias give the value shown."""
    assert layers
    for layer in layers:
        total = sum(w * x for w, x in layer["terms"]) + layer["rest"] + layer["bias"]
        assert total == pytest.approx(layer["value"], abs=1e-3), layer


# ----- the report ------------------------------------------------------------------

def test_terminal_report_for_a_small_game(cartpole_run):
    result = run_cli("report", cartpole_run, "--episodes", 3)
    assert result.returncode == 0, result.stderr
    text = result.stderr
    assert "CartPole-v1 played by a PPO agent" in text
    assert "20,2" in text and "games finished" in text  # moves and games trained
    assert "Score during training: the first" in text and "(up)" in text
    assert "Playing 3 games" in text and "Random play scores" in text
    assert "doctor" in text


def test_html_report_renders_in_a_browser(cartpole_run, tmp_path):
    page = tmp_path / "cartpole.html"
    result = run_cli("report", cartpole_run, "--html", page, "--episodes", 2)
    assert result.returncode == 0, result.stderr
    assert f"Wrote the report to '{page}'" in result.stderr
    text = assert_self_contained(page)
    assert text.count("data:image/png;base64,") >= 3  # the evaluation bars, the score curve, frames of play
    assert "alt='frames of play'" in text  # Gymnasium draws CartPole with pygame, which the games extra installs
    for words in ("Score during training", "The doctor", "random play (", "solved", "score (475)"):
        assert words in text
    pixels, console = screenshot_in_chromium(page, tmp_path)
    assert console == []
    assert coloured_pixels(pixels) > 2000  # plots were drawn
    assert (pixels.sum(axis=2) < 200).sum() > 2000  # and text


def test_pong_report_shows_frames_of_play_and_the_human_reference(pong_run, tmp_path):
    page = tmp_path / "pong.html"
    result = run_cli("report", pong_run, "--html", page, "--episodes", 1)
    assert result.returncode == 0, result.stderr
    assert "No game finished during training yet" in result.stderr
    assert "human tester" in result.stderr and "Too little training" in result.stderr
    text = assert_self_contained(page)
    assert "alt='frames of play'" in text and text.count("data:image/png;base64,") == 3
    assert "Too little training" in text and "human tester" in text
    pixels, console = screenshot_in_chromium(page, tmp_path)
    assert console == []
    pong_brown = np.abs(pixels - np.array([144, 72, 17])).sum(axis=2) < 30  # the Pong court
    assert pong_brown.sum() > 5000


def test_report_never_overwrites_a_page_silently(cartpole_run, tmp_path):
    page = tmp_path / "mine.html"
    page.write_text("my own page")
    assert_user_error(run_cli("report", cartpole_run, "--html", page), "already exists", "--overwrite")
    assert page.read_text() == "my own page"
    result = run_cli("report", cartpole_run, "--html", page, "--overwrite", "--episodes", 1)
    assert result.returncode == 0, result.stderr
    assert "<!doctype html>" in page.read_text()


def test_report_bad_options(cartpole_run, tmp_path):
    assert_user_error(run_cli("report", cartpole_run, "--episodes", 0), "at least 1")
    assert_user_error(run_cli("report", cartpole_run, "--html", tmp_path / "missing" / "r.html"), "does not exist")


# ----- explain ---------------------------------------------------------------------

def test_explain_a_cartpole_move(cartpole_run):
    result = run_cli("explain", cartpole_run, "--row", 20)
    assert result.returncode == 0, result.stderr
    text = result.stderr
    assert "Move 20 of a game of CartPole-v1" in text
    assert "push left" in text and "push right" in text and "critic" in text
    assert "pole angle = " in text and "if it were 0" in text
    assert "dense 1: 64 neurons" in text and "Tanh" in text and "Softmax" in text

    result = run_cli("explain", cartpole_run, "--row", 20, "--json")
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    assert explained["move"] == 20 and set(explained["chances"]) == {"push left", "push right"}
    assert sum(explained["chances"].values()) == pytest.approx(1.0)
    assert explained["chosen"] == max(explained["chances"], key=explained["chances"].get)
    assert set(explained["input_effects"]) == {"cart position", "cart speed", "pole angle", "pole turning speed"}
    assert_network_sums_add_up(explained["layers"])
    again = json.loads(run_cli("explain", cartpole_run, "--row", 20, "--json").stdout)
    assert again["chances"] == explained["chances"]  # the same seeded game every time


def test_explain_a_pong_move(pong_run):
    result = run_cli("explain", pong_run, "--row", 200, "--json")
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    moves = {"do nothing", "fire", "right", "left", "right + fire", "left + fire"}  # Pong's joystick moves
    assert set(explained["chances"]) == moves
    assert sum(explained["chances"].values()) == pytest.approx(1.0, abs=1e-4)
    assert np.asarray(explained["patch_drops"]).shape == (8, 8)
    assert_network_sums_add_up(explained["layers"])
    assert [layer["layer"] for layer in explained["layers"]] == ["conv 1", "conv 2", "output"]
    text = "\n".join(explained["why"] + explained["mattered"] + explained["network"])
    assert "of the screen" in text and "greyed out" in text and "conv 1: 32 filters" in text

    plain = run_cli("explain", pong_run, "--row", 200)
    assert plain.returncode == 0 and plain.stdout == ""
    assert "What mattered" in plain.stderr and "Filter" in plain.stderr


def test_explain_a_dqn_agent():
    """DQN has no chances: its guesses of the score to come per move are explained instead."""
    from mathless.games.agent import Agent
    from mathless.games.catalog import find_game
    from mathless.games.networks import describe

    for game, shape, actions in (("Pong", (4, 64, 64), 6), ("CartPole-v1", (4,), 2)):
        agent = Agent(find_game(game), "dqn", describe(shape, actions, "dqn"))
        explained = agent.explain(row=5, quiet=True)
        guesses = explained["move_guesses"]
        assert explained["chosen"] == max(guesses, key=guesses.get) and "chances" not in explained
        assert "lead of" in explained["mattered"][0]
        assert_network_sums_add_up(explained["layers"])


def test_explain_bad_inputs(cartpole_run, pong_run, tmp_path):
    assert_user_error(run_cli("explain", cartpole_run, "--row", 100000), "ended after", "pick a move from 1 to")
    assert_user_error(run_cli("explain", pong_run, "--row", 30000), "at most 27,000 moves")
    assert_user_error(run_cli("explain", cartpole_run, "--row", 0), "at least 1")
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    assert_user_error(run_cli("explain", cartpole_run, data), "takes no data file", "--row")


def test_table_models_still_need_a_file(penguin_model):
    assert_user_error(run_cli("explain", penguin_model), "give a file with the row")
    assert_user_error(run_cli("report", penguin_model, "--episodes", 2), "--episodes is for game agents")


def test_help_mentions_game_agents():
    for command in ("report", "explain"):
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "game agent" in result.stdout


# ----- the doctor --------------------------------------------------------------------

def make_agent(game: str, scores, moves: int):
    """An agent whose training history is ``scores``, spread evenly over ``moves`` moves."""
    from mathless.games.agent import Agent
    from mathless.games.catalog import find_game
    from mathless.games.networks import describe

    chosen = find_game(game)
    config = describe((4, 64, 64), 6, "ppo") if chosen.pixels else describe((4,), 2, "ppo")
    steps = np.linspace(moves / len(scores), moves, len(scores)).astype(int) if len(scores) else []
    minutes = moves / (60_000 if chosen.pixels else 10_000)
    history = [(minutes * s / moves, int(s), float(score)) for s, score in zip(steps, scores)]
    return Agent(chosen, "ppo", config, history=history, steps=moves, minutes=minutes)


def checks(agent) -> list:
    found = agent.findings()
    for f in found:
        assert set(f) == {"check", "message", "try"} and f["message"] and f["try"]
    return [f["check"] for f in found]


def noisy(values, spread, seed=0):
    return np.asarray(values, dtype=float) + np.random.default_rng(seed).normal(0, spread, len(values))


HEALTHY_CARTPOLE = np.clip(noisy(np.linspace(20, 400, 300), 20), 8, 500)
HEALTHY_PONG = np.clip(noisy(np.linspace(-21, 5, 300), 2).round(), -21, 21)


def test_a_healthy_history_gets_no_findings():
    assert checks(make_agent("CartPole-v1", HEALTHY_CARTPOLE, 60_000)) == []
    assert checks(make_agent("Pong", HEALTHY_PONG, 3_000_000)) == []
    solved = np.concatenate([np.linspace(20, 500, 50), np.full(250, 500.0)])  # flat, but at the top
    assert checks(make_agent("CartPole-v1", solved, 60_000)) == []


def test_too_little_training():
    assert checks(make_agent("CartPole-v1", noisy(np.full(8, 30), 5), 3_000)) == ["too little training"]
    few_moves = make_agent("Pong", noisy(np.full(40, -20), 0.5).round(), 40_000)
    assert checks(few_moves)[0] == "too little training"
    assert "100,000 moves" in few_moves.findings()[0]["message"]
    assert checks(make_agent("Pong", [], 2_048)) == ["too little training"]


def test_no_better_than_random():
    flat_at_random = np.clip(noisy(np.full(300, -20.6), 0.5).round(), -21, -18)
    found = make_agent("Pong", flat_at_random, 600_000).findings()
    assert [f["check"] for f in found] == ["no better than random"]
    assert "-20.7" in found[0]["message"]  # random play in the DQN paper
    cartpole_random = make_agent("CartPole-v1", noisy(np.full(300, 22), 8).clip(8), 60_000)
    assert checks(cartpole_random) == ["no better than random"]  # random play measured now


def test_score_collapsed():
    rise_then_fall = np.concatenate([np.linspace(20, 400, 150), np.linspace(400, 60, 70), np.full(80, 60.0)])
    found = make_agent("CartPole-v1", noisy(rise_then_fall, 15).clip(8, 500), 60_000).findings()
    assert [f["check"] for f in found] == ["score collapsed"]
    assert "unstable" in found[0]["message"]


def test_score_stopped_improving():
    plateau = np.concatenate([np.linspace(20, 250, 100), np.full(200, 250.0)])
    found = make_agent("CartPole-v1", noisy(plateau, 20).clip(8, 500), 60_000).findings()
    assert [f["check"] for f in found] == ["score stopped improving"]
    assert "last third of training" in found[0]["message"]
    # A dip that is climbing back is still improving, not stalled (nor a collapse).
    dip = np.concatenate([np.linspace(20, 380, 100), np.linspace(380, 180, 80), np.linspace(180, 360, 120)])
    assert checks(make_agent("CartPole-v1", noisy(dip, 20).clip(8, 500), 60_000)) == []


def test_doctor_through_the_cli(tmp_path):
    rise_then_fall = np.concatenate([np.linspace(20, 400, 150), np.linspace(400, 60, 70), np.full(80, 60.0)])
    make_agent("CartPole-v1", noisy(rise_then_fall, 15).clip(8, 500), 60_000).save(tmp_path / "collapsed")
    result = run_cli("report", tmp_path / "collapsed", "--episodes", 1)
    assert result.returncode == 0, result.stderr
    assert "The score collapsed" in result.stderr and "Try: " in result.stderr


def test_a_real_short_run(cartpole_run):
    agent = ml.load(cartpole_run)
    found = checks(agent)
    assert "too little training" not in found and "no better than random" not in found
    assert ml.load(cartpole_run).findings() == agent.findings()  # deterministic


def test_watch_a_small_game(cartpole_run, tmp_path):
    from PIL import Image

    out = tmp_path / "cartpole.gif"
    result = run_cli("watch", cartpole_run, "--out", out, "--seconds", "3")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as gif:
        assert gif.n_frames > 10 and gif.size[0] >= 400  # CartPole's own 600x400 drawing
