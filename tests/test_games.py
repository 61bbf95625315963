"""Games: train, checkpoint, resume, evaluate, watch - through the Python API and the CLI.

Budgets are tiny (seconds); the long Pong runs live in bench/pong.py.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mathless as ml

MATHLESS = str(Path(sys.executable).with_name("mathless"))


def cli(*args, cwd=None, timeout=240):
    return subprocess.run([MATHLESS, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def assert_plain_error(result, *phrases):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("mathless: "), result.stderr
    for phrase in phrases:
        assert phrase.lower() in result.stderr.lower(), result.stderr


@pytest.fixture(scope="module")
def breakout_run(tmp_path_factory):
    """One short Atari run, made through the CLI, shared by the tests below."""
    run = tmp_path_factory.mktemp("games") / "breakout"
    result = cli("play", "Breakout", "--algorithm", "ppo", "--steps", 4096, "--out", run)
    assert result.returncode == 0, result.stderr
    return run


def test_cartpole_learns_well_above_random():
    agent = ml.play("CartPole-v1", steps=40_000, quiet=True, seed=1)
    assert agent.algorithm == "ppo"  # the default for small games
    result = agent.evaluate(episodes=10)
    assert result["random_play"] < 40  # random play keeps the pole up ~22 steps
    assert result["mean"] > 150, result["verdict"]
    assert "beats random play" in result["verdict"]


def test_until_score_stops_once_the_last_100_games_reach_it(tmp_path):
    run = tmp_path / "cartpole"
    result = cli("play", "CartPole-v1", "--minutes", 3, "--until-score", 60, "--out", run)
    assert result.returncode == 0, result.stderr
    assert "reached" in result.stderr and "stopping" in result.stderr, result.stderr
    assert "Training PPO (the default for small games" in result.stderr, result.stderr
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["minutes_trained"] < 2.5  # stopped by the score, not by the 3-minute budget
    with open(run / "curve.csv", newline="") as handle:
        games = [(int(row["agent_steps"]), float(row["score"])) for row in csv.DictReader(handle)]
    scores = [score for _steps, score in games]
    assert len(scores) >= 100 and np.mean(scores[-100:]) >= 60
    assert np.mean(scores[:10]) < 40  # it learned on the way: random play keeps the pole up ~22 steps
    # It stopped at the first stretch of play after which the mean of the last 100 games was 60 or more:
    # games that end in the same stretch share a move count, and the rule is checked after each stretch.
    stretch_ends = [i + 1 for i in range(len(games) - 1) if games[i][0] != games[i + 1][0]]
    assert all(np.mean(scores[end - 100:end]) < 60 for end in stretch_ends if end >= 100)


def test_atari_run_folder_is_plain_data(breakout_run):
    names = {p.name for p in breakout_run.iterdir()}
    assert {"manifest.json", "weights.safetensors", "optimizer.safetensors", "curve.csv", "curve.png"} <= names
    assert not any(name.endswith((".pt", ".pth", ".pkl", ".pickle")) for name in names)
    manifest = json.loads((breakout_run / "manifest.json").read_text())
    assert manifest["kind"] == "agent" and manifest["game"]["env_id"] == "breakout"
    assert manifest["network"]["body"] == "nature"  # PPO keeps the classic picture network; DQN's is "small"
    assert manifest["agent_steps"] >= 4096 and manifest["frames"] == 4 * manifest["agent_steps"]
    assert (breakout_run / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    agent = ml.load(breakout_run)  # safetensors + JSON + CSV only; nothing is unpickled
    assert agent.game.name == "Breakout" and agent.steps == manifest["agent_steps"]
    assert len(agent.history) == manifest["games_played"] > 0
    assert manifest["pace"]["precision"] in ("bfloat16", "float32") and manifest["pace"]["learning_threads"] >= 1


def test_resume_continues_with_history(breakout_run, tmp_path):
    run = tmp_path / "resumed"
    shutil.copytree(breakout_run, run)
    before = ml.load(run)
    result = cli("play", "Breakout", "--resume", run, "--steps", 2048)
    assert result.returncode == 0, result.stderr
    after = ml.load(run)
    assert after.steps == before.steps + 2048
    assert after.history[: len(before.history)] == before.history
    assert len(after.history) > len(before.history)
    assert after.minutes > before.minutes
    assert after.optimizer_state is not None


def test_evaluate_compares_with_random_and_human(breakout_run):
    result = cli("evaluate", breakout_run, "--episodes", 2, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["episodes"] == 2 and len(report["scores"]) == 2
    assert report["random_play"] == 1.7 and report["human_tester"] == 31.8  # Mnih et al. 2015
    assert "sticky actions" in report["protocol"]
    plain = cli("evaluate", breakout_run, "--episodes", 1)
    assert plain.returncode == 0 and "human tester" in plain.stdout
    info = cli("info", breakout_run)
    assert info.returncode == 0 and "Breakout" in info.stdout


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_watch_writes_a_real_video(breakout_run, tmp_path, suffix):
    import imageio.v3 as iio

    out = tmp_path / f"breakout{suffix}"
    result = cli("watch", breakout_run, "--out", out, "--seconds", 4)
    assert result.returncode == 0, result.stderr
    frames = iio.imread(out, index=None)
    assert frames.shape[0] >= 10 and frames.shape[-1] == 3
    assert frames.shape[1] >= 210 and frames.shape[2] >= 160  # the full Atari picture
    assert frames.std() > 5  # real pictures, not a blank screen
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).sum() > 0  # something moves


def test_dqn_adds_up_n_rewards_and_stops_where_an_episode_ended():
    import torch

    from mathless.games.dqn import n_step_returns

    # One copy, a memory of 6 rows: rewards 1, 0, 1, 5, 0, 2; its episode ends after row 2.
    rewards = torch.tensor([[1.0], [0.0], [1.0], [5.0], [0.0], [2.0]])
    ends = torch.tensor([[0.0], [0.0], [1.0], [0.0], [0.0], [0.0]])
    gamma = 0.5
    total, still_playing = n_step_returns(rewards, ends, torch.tensor([0, 1, 2, 3, 4]), torch.zeros(5, dtype=torch.long),
                                          3, gamma)
    assert torch.allclose(total, torch.tensor([
        1 + 0 + 0.25 * 1,  # rows 0-2: the move that ended the episode still counts
        0 + 0.5 * 1,  # rows 1-2, then the next episode's row 3 does not
        1.0,  # row 2 ends its own episode
        5 + 0 + 0.25 * 2,  # rows 3-5
        0 + 0.5 * 2 + 0.25 * 1,  # rows 4, 5 and (the ring wraps) 0
    ]))
    assert still_playing.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # only then does the guess 3 moves later count


def test_dqn_trains_saves_and_loads(tmp_path):
    agent = ml.play("CartPole-v1", algorithm="dqn", steps=3000, quiet=True, out=tmp_path / "dqn")
    loaded = ml.load(tmp_path / "dqn")
    assert loaded.algorithm == "dqn" and loaded.steps == agent.steps >= 3000
    assert loaded.evaluate(episodes=2)["episodes"] == 2


def test_dqn_learns_from_replayed_atari_moves(tmp_path):
    """Past the 10,000 moves of pure exploration, DQN (the default for Atari) takes learning steps on Pong's pictures."""
    agent = ml.play("Pong", steps=12_000, quiet=True, out=tmp_path / "dqn-pong")
    assert agent.algorithm == "dqn"
    steps_taken = {int(state["step"]) for state in agent.optimizer_state["state"].values()}
    assert steps_taken and min(steps_taken) >= 120  # one learning step per 2 rounds of the 8 copies: 2,000 / 16
    assert agent.settings["n_step"] == 3 and agent.settings["copies"] == 8
    loaded = ml.load(tmp_path / "dqn-pong")
    assert loaded.algorithm == "dqn" and loaded.network_config["body"] == "small"
    result = cli("explain", tmp_path / "dqn-pong", "--row", "30", "--json")
    assert result.returncode == 0, result.stderr


def test_a_dqn_agent_keeps_the_network_and_settings_it_was_saved_with(tmp_path):
    """An Atari DQN agent saved before the small network and the doubled learning rate became the default
    goes on learning with its own (the classic network, 2.5e-4), so a new default never changes old agents."""
    from dataclasses import asdict

    from mathless.games.agent import Agent
    from mathless.games.catalog import find_game
    from mathless.games.dqn import Settings

    classic = {"kind": "pixels", "input": [4, 64, 64], "actions": 6, "body": "nature"}
    Agent(find_game("Pong"), "dqn", classic, settings=asdict(Settings(learning_rate=2.5e-4))).save(tmp_path / "old")
    resumed = ml.play("Pong", resume=tmp_path / "old", steps=800, quiet=True)
    assert resumed.steps >= 800 and resumed.optimizer_state["param_groups"][0]["lr"] == 2.5e-4
    loaded = ml.load(tmp_path / "old")
    assert loaded.network_config["body"] == "nature" and loaded.settings["learning_rate"] == 2.5e-4
    assert Settings().learning_rate == 5e-4  # while a new agent gets the default


def test_ctrl_c_saves_the_run(tmp_path):
    run = tmp_path / "stopped"
    # a shell starts background jobs with Ctrl-C ignored, and children inherit that: give this one a normal Ctrl-C
    process = subprocess.Popen([MATHLESS, "play", "CartPole-v1", "--minutes", "5", "--out", str(run)],
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 90
    for line in process.stderr:  # wait for the first progress line (10 s in): moves have been made by then
        if " moves (" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=180)  # saving can be slow on a loaded machine
    assert process.returncode == 0, stderr
    assert "Saved the agent so far" in stderr and "Traceback" not in stderr
    assert ml.load(run).steps > 0


# ----- every bad input: one plain message, exit status 2, nothing lost ----------------

def test_unknown_game_suggests_names():
    assert_plain_error(cli("play", "Pongg"), "no game called 'Pongg'", "Did you mean 'Pong'", "mathless games")


def test_continuous_actions_are_refused_with_advice(tmp_path):
    assert_plain_error(cli("play", "Pendulum-v1", "--out", tmp_path / "p"), "continuous actions", "CartPole-v1")
    assert not (tmp_path / "p").exists()


def test_resume_of_another_game_leaves_the_run_intact(breakout_run):
    before = (breakout_run / "manifest.json").read_bytes()
    assert_plain_error(cli("play", "Pong", "--resume", breakout_run), "holds an agent for Breakout, not Pong")
    assert (breakout_run / "manifest.json").read_bytes() == before
    ml.load(breakout_run)


def test_corrupt_run_folder(breakout_run, tmp_path):
    run = tmp_path / "corrupt"
    shutil.copytree(breakout_run, run)
    data = bytearray((run / "weights.safetensors").read_bytes())
    data[-10:] = b"0123456789"
    (run / "weights.safetensors").write_bytes(bytes(data))
    for command in (("evaluate", run), ("watch", run, "--out", tmp_path / "x.gif"), ("play", "Breakout", "--resume", run)):
        assert_plain_error(cli(*command), "damaged")
    assert not (tmp_path / "x.gif").exists()


def test_foreign_folders(tmp_path):
    foreign = tmp_path / "holiday-photos"
    foreign.mkdir()
    (foreign / "beach.txt").write_text("not a model")
    assert_plain_error(cli("watch", foreign), "not a mathless model folder")
    assert_plain_error(cli("play", "Pong", "--resume", foreign), "not a mathless model folder")
    assert_plain_error(cli("evaluate", tmp_path / "missing"), "does not exist")
    table = tmp_path / "table-model"
    table.mkdir()
    (table / "manifest.json").write_text(json.dumps({"kind": "table", "format_version": 1, "files": {}}))
    assert_plain_error(cli("watch", table), "not a agent model")


def test_existing_output_is_never_overwritten_silently(breakout_run, tmp_path):
    before = (breakout_run / "manifest.json").read_bytes()
    assert_plain_error(cli("play", "Breakout", "--steps", 100, "--out", breakout_run), "already exists", "--overwrite")
    assert (breakout_run / "manifest.json").read_bytes() == before
    video = tmp_path / "taken.gif"
    video.write_bytes(b"mine")
    assert_plain_error(cli("watch", breakout_run, "--out", video), "already exists")
    assert video.read_bytes() == b"mine"


@pytest.mark.parametrize("args, phrase", [
    (("play", "CartPole-v1", "--minutes", "-1"), "above 0"),
    (("play", "CartPole-v1", "--steps", "0"), "above 0"),
    (("play", "CartPole-v1", "--algorithm", "a2c"), "Unknown algorithm"),
    (("play", "CartPole-v1", "--until-score", "nan"), "must be a number"),
    (("play", "", "--steps", "10"), "Name a game"),
])
def test_bad_options(args, phrase, tmp_path):
    assert_plain_error(cli(*args, "--out", tmp_path / "run"), phrase)


def test_watch_needs_gif_or_mp4(breakout_run, tmp_path):
    assert_plain_error(cli("watch", breakout_run, "--out", tmp_path / "x.avi"), ".gif or an .mp4")


def test_games_lists_atari_and_gymnasium():
    result = cli("games", "--json")
    assert result.returncode == 0
    listed = json.loads(result.stdout)
    assert "Pong" in listed["atari"] and "SpaceInvaders" in listed["atari"]
    assert "CartPole-v1" in listed["gymnasium"]
    assert not any(name.startswith("ALE/") for name in listed["gymnasium"])


def test_import_and_help_stay_light():
    code = "import sys, mathless, mathless.cli.main; print(sorted(m for m in ('torch', 'gymnasium', 'ale_py', 'matplotlib') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout
    help_text = cli("--help").stdout
    assert "play" in help_text and "watch" in help_text and "games" in help_text


def test_bfloat16_training_body_keeps_the_moves_float32():
    """While training, the picture body may run in bfloat16; the move chances and values stay float32 and
    close to the float32 network's, and the pictures handed in are never changed."""
    import torch

    from mathless.games.networks import ActorCritic

    torch.manual_seed(0)
    network = ActorCritic({"kind": "pixels", "input": [4, 64, 64], "actions": 6, "body": "nature"})
    pictures = torch.randint(0, 256, (8, 4, 64, 64), dtype=torch.uint8)
    before = pictures.clone()
    with torch.no_grad():
        exact_logits, exact_values = network(pictures)
        network.fast = True
        fast_logits, fast_values = network(pictures)
    assert torch.equal(pictures, before)
    assert fast_logits.dtype == torch.float32 and fast_values.dtype == torch.float32
    exact_chances, fast_chances = exact_logits.softmax(1), fast_logits.softmax(1)
    assert (exact_chances - fast_chances).abs().max() < 0.01
    assert (exact_values - fast_values).abs().max() < 0.05 * exact_values.abs().max() + 0.01


def test_the_network_runs_the_way_that_timed_fastest():
    """Pace times learning and choosing moves each way the network can run here (bfloat16 where the chip has
    it, all cores or one thread), keeps the fastest, says so in words, and leaves the weights as they were."""
    import torch

    from mathless.games.networks import ActorCritic, Pace

    torch.manual_seed(0)
    network = ActorCritic({"kind": "pixels", "input": [4, 48, 48], "actions": 6, "body": "nature"})
    weights = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    pace = Pace(network, torch.device("cpu"))
    batch = torch.randint(0, 256, (64, 4, 48, 48), dtype=torch.uint8)
    assert pace.due()
    assert pace.check(batch, batch[:8]) is True  # the first check always reports its choice
    assert set(pace.timings) == {(fast, threads) for fast in pace.precisions for threads in pace.threads}
    assert set(pace.act_timings) == set(pace.threads) and min(pace.timings.values()) > 0
    assert (network.fast, pace.learn_threads) == max(pace.timings, key=pace.timings.get)
    assert pace.act_threads == max(pace.act_timings, key=pace.act_timings.get)
    assert all(torch.equal(weights[name], tensor) for name, tensor in network.state_dict().items())
    assert not pace.due()
    words = pace.words()
    assert words.startswith("Speed check: learning in " + pace.choice()["precision"]) and "pictures/s" in words
    pace.for_learning()
    assert torch.get_num_threads() == pace.learn_threads
    pace.for_acting()
    assert torch.get_num_threads() == pace.act_threads


def test_a_run_that_gets_worse_keeps_its_best_network(tmp_path):
    """Training that solves CartPole and then loses it ends with the network of the best stretch, says so, and the
    run folder, the report and the doctor carry that; training that ends at its best keeps the last network."""
    import torch

    from mathless.games.agent import Agent
    from mathless.games.catalog import find_game
    from mathless.games.networks import describe
    from mathless.games.play import Run
    from mathless.games.report import training_lines

    def finish(run, score, games=20):
        run.record(500 * games, [(score, 500)] * games)

    def nudge(network):  # stands in for a learning step: the weights move on
        with torch.no_grad():
            for tensor in network.parameters():
                tensor.add_(0.1)

    agent = Agent(find_game("CartPole-v1"), "ppo", describe((4,), 2, "ppo"))
    run = Run(agent, minutes=None, steps=100_000, out=None, quiet=True)
    finish(run, 20.0)
    nudge(agent.network)
    finish(run, 500.0)  # the best stretch: 20 games in a row at the maximum
    best = {name: tensor.clone() for name, tensor in agent.network.state_dict().items()}
    nudge(agent.network)
    finish(run, 150.0)
    agent.optimizer_state = {"state": {}, "param_groups": []}
    run.keep_best()
    assert all(torch.equal(tensor, best[name]) for name, tensor in agent.network.state_dict().items())
    assert agent.kept["score"] == 500.0 and agent.kept["last_score"] == 150.0 and agent.kept["games"] == 20
    assert agent.optimizer_state is None  # that learning state belonged to the later network
    assert len(agent.history) == 60  # every game stays on the record

    agent.save(tmp_path / "kept")
    loaded = ml.load(tmp_path / "kept")
    assert loaded.kept == agent.kept
    assert any("the last 20 games averaged 150" in line for line in training_lines(loaded))
    collapse = next(f for f in loaded.findings() if f["check"] == "score collapsed")
    assert "The saved network is not the last one" in collapse["message"]

    steady = Agent(find_game("CartPole-v1"), "ppo", describe((4,), 2, "ppo"))
    run = Run(steady, minutes=None, steps=100_000, out=None, quiet=True)
    finish(run, 20.0)
    finish(run, 480.0)
    nudge(steady.network)
    last = {name: tensor.clone() for name, tensor in steady.network.state_dict().items()}
    finish(run, 470.0)  # a little below the best: noise, not a collapse
    run.keep_best()
    assert steady.kept is None
    assert all(torch.equal(tensor, last[name]) for name, tensor in steady.network.state_dict().items())


def test_an_agent_plays_at_the_picture_size_it_learned_on(tmp_path):
    """An agent saved with other pictures than today's default (48x48 here) is trained, judged, explained and
    watched at its own size, so changing the default never breaks the agents people already have."""
    from mathless.games.agent import Agent
    from mathless.games.catalog import find_game
    from mathless.games.environments import SCREEN
    from mathless.games.networks import describe

    assert SCREEN != 48
    Agent(find_game("Pong"), "ppo", describe((4, 48, 48), 6, "ppo")).save(tmp_path / "small")
    resumed = ml.play("Pong", resume=tmp_path / "small", steps=1024, quiet=True)
    assert resumed.steps == 1024 and resumed.screen == (48, 48)
    agent = ml.load(tmp_path / "small")
    assert agent.network_config["input"] == [4, 48, 48]
    assert len(agent.evaluate(episodes=1)["scores"]) == 1
    assert agent.explain(row=3, quiet=True)["move"]
    assert agent.watch(tmp_path / "small.gif", max_seconds=2).stat().st_size > 0
