"""Which games exist, how a name the user typed maps to one, and the reference scores.

Two families:
- Atari 2600 games, emulated by ale-py (the Arcade Learning Environment). The user
  may type "Pong", "pong", "SpaceInvaders", "space_invaders" or "ALE/Pong-v5".
- Any other registered Gymnasium environment, by its id ("CartPole-v1").

Reference scores are those published with DQN (Mnih et al., "Human-level control
through deep reinforcement learning", Nature 2015, Extended Data Table 2): the
average of a professional human games tester and of uniformly random play, for
the 49 games of that paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mathless.errors import UserError, did_you_mean

# (random play, human tester), Mnih et al. 2015.
REFERENCE_SCORES = {
    "alien": (227.8, 6875), "amidar": (5.8, 1676), "assault": (222.4, 1496),
    "asterix": (210, 8503), "asteroids": (719.1, 13157), "atlantis": (12850, 29028),
    "bank_heist": (14.2, 734.4), "battle_zone": (2360, 37800), "beam_rider": (363.9, 5775),
    "bowling": (23.1, 154.8), "boxing": (0.1, 4.3), "breakout": (1.7, 31.8),
    "centipede": (2091, 11963), "chopper_command": (811, 9882), "crazy_climber": (10781, 35411),
    "demon_attack": (152.1, 3401), "double_dunk": (-18.6, -15.5), "enduro": (0, 309.6),
    "fishing_derby": (-91.7, 5.5), "freeway": (0, 29.6), "frostbite": (65.2, 4335),
    "gopher": (257.6, 2321), "gravitar": (173, 2672), "hero": (1027, 25763),
    "ice_hockey": (-11.2, 0.9), "jamesbond": (29, 406.7), "kangaroo": (52, 3035),
    "krull": (1598, 2395), "kung_fu_master": (258.5, 22736), "montezuma_revenge": (0, 4367),
    "ms_pacman": (307.3, 15693), "name_this_game": (2292, 4076), "pong": (-20.7, 9.3),
    "private_eye": (24.9, 69571), "qbert": (163.9, 13455), "riverraid": (1339, 13513),
    "road_runner": (11.5, 7845), "robotank": (2.2, 11.9), "seaquest": (68.4, 20182),
    "space_invaders": (148, 1652), "star_gunner": (664, 10250), "tennis": (-23.8, -8.9),
    "time_pilot": (3568, 5925), "tutankham": (11.4, 167.6), "up_n_down": (533.4, 9082),
    "venture": (0, 1188), "video_pinball": (16257, 17298), "wizard_of_wor": (563.5, 4757),
    "zaxxon": (32.5, 9173),
}


@dataclass(frozen=True)
class Game:
    """A game the user asked for, resolved to something we can build."""

    name: str  # what we call it in messages: "Pong", "CartPole-v1"
    family: str  # "atari" or "gymnasium"
    env_id: str  # ale-py ROM id ("pong") or Gymnasium id ("CartPole-v1")

    @property
    def pixels(self) -> bool:
        return self.family == "atari"

    def reference(self):
        """(random play, human tester) scores, or None when not published."""
        return REFERENCE_SCORES.get(self.env_id) if self.family == "atari" else None

    def to_dict(self) -> dict:
        return {"name": self.name, "family": self.family, "env_id": self.env_id}

    @classmethod
    def from_dict(cls, data: dict) -> "Game":
        return cls(name=data["name"], family=data["family"], env_id=data["env_id"])


def _snake(name: str) -> str:
    """'SpaceInvaders' -> 'space_invaders'; 'space-invaders' -> 'space_invaders'."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[\s\-]+", "_", name).lower()


def _camel(rom: str) -> str:
    return "".join(part.capitalize() for part in rom.split("_"))


def atari_games() -> list[str]:
    from ale_py import roms

    return sorted(roms.get_all_rom_ids())


def gymnasium_ids() -> list[str]:
    """Registered Gymnasium ids, without the Atari ones (listed separately)."""
    import gymnasium

    return sorted(
        env_id for env_id, spec in gymnasium.registry.items()
        if not env_id.startswith("ALE/") and "ale_py" not in str(spec.entry_point)
        and not env_id.startswith(("phys2d/", "tabular/", "GymV2"))
    )


# Small-state Gymnasium games with a list of moves: what PPO and DQN here can learn.
SMALL_GAMES = ["CartPole-v1", "Acrobot-v1", "LunarLander-v3"]


def find_game(name: str) -> Game:
    """Resolve what the user typed; a typo gets suggestions."""
    if not isinstance(name, str) or not name.strip():
        raise UserError("Name a game to play, e.g. 'mathless play Pong' or 'mathless play CartPole-v1'.")
    typed = name.strip()
    roms = atari_games()
    atari_part = typed[4:] if typed.upper().startswith("ALE/") else typed
    atari_part = re.sub(r"(NoFrameskip)?-v\d+$", "", atari_part)
    rom = _snake(atari_part).replace("__", "_")
    compact = {r.replace("_", ""): r for r in roms}
    if rom in roms or rom.replace("_", "") in compact:
        rom = rom if rom in roms else compact[rom.replace("_", "")]
        return Game(name=_camel(rom), family="atari", env_id=rom)
    gym_ids = gymnasium_ids()
    lowered = {g.lower(): g for g in gym_ids}
    if typed in gym_ids or typed.lower() in lowered:
        env_id = typed if typed in gym_ids else lowered[typed.lower()]
        return Game(name=env_id, family="gymnasium", env_id=env_id)
    # "CartPole" without a version: take the newest registered version.
    versions = sorted((g for g in gym_ids if re.fullmatch(re.escape(typed) + r"-v\d+", g, re.I)),
                      key=lambda g: int(g.rsplit("-v", 1)[1]))
    if versions:
        return Game(name=versions[-1], family="gymnasium", env_id=versions[-1])
    choices = [_camel(r) for r in roms] + gym_ids
    raise UserError(
        f"There is no game called '{typed}'.{did_you_mean(typed, choices)} "
        f"Run 'mathless games' to list the Atari games and Gymnasium environments available."
    )
