"""The built-in demo worlds by name (params demo.world); docs/worlds.md describes them."""

from __future__ import annotations

from collections.abc import Callable

from demo.common import ADOPTION, PROJECTS, DemoTables, SimulationSettings
from demo.project_simulator import generate_project_world
from demo.simulator import generate_demo

WORLDS: dict[str, Callable[[SimulationSettings, int], DemoTables]] = {
    ADOPTION: generate_demo,
    PROJECTS: generate_project_world,
}


def generate(settings: SimulationSettings, seed: int) -> DemoTables:
    """The tables of the world `settings.world`, a pure function of (settings, seed)."""
    if settings.world not in WORLDS:
        raise ValueError(f"unknown demo world {settings.world!r}; known: {', '.join(WORLDS)}")
    return WORLDS[settings.world](settings, seed)
