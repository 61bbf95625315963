"""How a game becomes something an agent can learn from: the whole recipe, in one place.

Atari games (ale-py's own multi-threaded vector environment, which measured
faster on 2 cores than one Python process per game and about as fast as EnvPool):

1. No-op starts: each game begins with 0-30 "do nothing" moves, so no two games start alike.
2. Fire on reset: games that wait for the FIRE button get it pressed.
3. Frame skip 4 with max-pooling: the agent picks a move every 4th frame; the move
   is repeated, and the last two frames are merged pixel by pixel (Atari sprites flicker).
4. Grayscale, shrunk to 64x64 pixels (the usual 84x84 costs 1.7x the compute on a CPU
   and Pong's ball stays visible at 64).
5. Frame stack 4: the agent sees the last 4 pictures, so it can tell which way things move.
6. Rewards clipped to -1, 0 or +1 for learning only (done in the algorithm); scores
   shown to the user are always the game's real score.
7. Losing a life ends an "episode" for learning only; the score counts the whole game.
8. Sticky actions (a 25% chance the previous move repeats, Machado et al. 2018) when
   evaluating and watching, not when training.

Gymnasium games with a small state (CartPole, Acrobot, LunarLander ...) are used
as they are, several copies side by side.
"""

from __future__ import annotations

import numpy as np

from mathless.errors import UserError
from mathless.games.catalog import Game
from mathless.machine import cores

FRAME_SKIP = 4
SCREEN = 64
STACK = 4
NOOP_MAX = 30
STICKY_EVALUATION = 0.25
MAX_FRAMES_PER_GAME = 108_000  # 30 minutes of play at 60 frames a second


def make_atari(game: Game, copies: int, seed: int, sticky: float = 0.0, threads: int | None = None,
               screen: tuple[int, int] = (SCREEN, SCREEN), stack: int = STACK, grayscale: bool = True,
               batch: int = 0):
    """The recipe above as one ale-py vector environment (steps 1-5 and 8)."""
    from ale_py.vector_env import AtariVectorEnv

    envs = AtariVectorEnv(
        game.env_id,
        num_envs=copies,
        batch_size=batch,
        num_threads=threads or min(cores(), copies),
        frameskip=FRAME_SKIP,
        maxpool=True,
        noop_max=NOOP_MAX,
        use_fire_reset=True,
        img_height=screen[0],
        img_width=screen[1],
        grayscale=grayscale,
        stack_num=stack,
        reward_clipping=False,  # the real score is summed here; learning clips it (step 6)
        episodic_life=False,  # life loss is tracked by GameSteps instead (step 7)
        repeat_action_probability=sticky,
        max_num_frames_per_episode=MAX_FRAMES_PER_GAME,
        autoreset_mode="SameStep",
    )
    envs.seed_value = seed
    return envs


def make_gymnasium(game: Game, copies: int, render: bool = False):
    import gymnasium
    from gymnasium.vector import AutoresetMode

    try:
        envs = gymnasium.make_vec(
            game.env_id, num_envs=copies, vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            render_mode="rgb_array" if render else None,
        )
    except gymnasium.error.DependencyNotInstalled as error:
        raise UserError(
            f"{game.name} needs an extra library that is not installed ({error}). "
            f"For the Box2D games (LunarLander, BipedalWalker, CarRacing): pip install 'gymnasium[box2d]'."
        ) from None
    return envs


def check_playable(game: Game, algorithm: str) -> None:
    """Refuse, in plain words, a game the algorithms here cannot learn."""
    if game.family == "atari":
        return
    import gymnasium

    try:
        env = make_gymnasium(game, 1)
    except UserError:
        raise
    except Exception as error:  # an environment that cannot even be built
        raise UserError(f"Could not start {game.name}: {error}") from None
    action_space, observation_space = env.single_action_space, env.single_observation_space
    env.close()
    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise UserError(
            f"{game.name} takes continuous actions (numbers in a range, like how hard to push), "
            f"but {algorithm.upper()} here picks from a fixed list of moves. Pick a game with a "
            f"list of moves (e.g. CartPole-v1, Acrobot-v1, LunarLander-v3, or any Atari game), "
            f"or use an algorithm for continuous actions such as SAC in Stable-Baselines3."
        )
    if not (isinstance(observation_space, gymnasium.spaces.Box) and len(observation_space.shape) == 1):
        raise UserError(
            f"{game.name} describes its state as {observation_space}, but mathless handles "
            f"Atari games (pictures) and games whose state is a short list of numbers. "
            f"Pick another game; 'mathless games' lists them."
        )


class GameSteps:
    """Several copies of a game side by side, with the bookkeeping the algorithms need.

    ``step`` returns the next observations, the real rewards, and ``ends``: True where an
    episode ended *for learning* (game over, time limit, or a lost life on Atari). Whole
    games that finished are collected in ``finished`` as (score, length in agent steps).
    """

    def __init__(self, game: Game, copies: int, seed: int, threads: int | None = None,
                 screen: tuple[int, int] = (SCREEN, SCREEN)):
        self.game = game
        self.copies = copies
        if game.family == "atari":
            self.envs = make_atari(game, copies, seed, threads=threads, screen=screen)
        else:
            self.envs = make_gymnasium(game, copies)
        self.seed = seed
        self.observation_shape = self.envs.single_observation_space.shape
        self.actions = int(self.envs.single_action_space.n)
        self.scores = np.zeros(copies, dtype=np.float64)
        self.lengths = np.zeros(copies, dtype=np.int64)
        self.lives = np.zeros(copies, dtype=np.int64)
        self.finished: list[tuple[float, int]] = []

    @property
    def frames_per_step(self) -> int:
        return FRAME_SKIP if self.game.family == "atari" else 1

    def reset(self) -> np.ndarray:
        observations, info = self.envs.reset(seed=self.seed)
        if "lives" in info:
            self.lives = np.asarray(info["lives"]).copy()
        return observations

    def step(self, actions: np.ndarray):
        observations, rewards, terminated, truncated, info = self.envs.step(actions)
        rewards = np.asarray(rewards, dtype=np.float64)
        game_over = np.logical_or(terminated, truncated)
        self.scores += rewards
        self.lengths += 1
        ends = game_over.copy()
        if "lives" in info:
            lives = np.asarray(info["lives"])
            ends |= lives < self.lives  # a lost life ends the episode for learning
            self.lives = lives.copy()
        for i in np.flatnonzero(game_over):
            self.finished.append((float(self.scores[i]), int(self.lengths[i])))
            self.scores[i] = 0.0
            self.lengths[i] = 0
        return observations, rewards, ends

    def take_finished(self) -> list[tuple[float, int]]:
        finished, self.finished = self.finished, []
        return finished

    def close(self) -> None:
        self.envs.close()


def play_games(game: Game, choose_actions, games: int, seed: int, sticky: float = STICKY_EVALUATION,
               max_steps: int = 27_000, screen: tuple[int, int] = (SCREEN, SCREEN)) -> list[float]:
    """Play ``games`` whole games side by side; return each one's real score.

    ``choose_actions(observations) -> actions``. Each copy counts only its first game;
    ``screen`` is the picture size the agent learned on.
    """
    if game.family == "atari":
        envs = make_atari(game, games, seed, sticky=sticky, screen=screen)
    else:
        envs = make_gymnasium(game, games)
    observations, info = envs.reset(seed=seed)
    scores = np.zeros(games)
    done = np.zeros(games, dtype=bool)
    for _ in range(max_steps):
        observations, rewards, terminated, truncated, info = envs.step(choose_actions(observations))
        scores += np.where(done, 0.0, rewards)
        done |= np.logical_or(terminated, truncated)
        if done.all():
            break
    envs.close()
    return [float(s) for s in scores]
