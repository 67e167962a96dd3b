"""Fixtures several integration modules share; module-scoped ones start once per module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.gateway_sim import Simulator
from tests.integration.charge_scene import Scene, open_scene, scene_simulator


@pytest.fixture(scope="module")
def scene_sim() -> Iterator[Simulator]:
    with scene_simulator() as sim:
        yield sim


@pytest.fixture(scope="module")
async def scene(service_env: dict[str, str], scene_sim: Simulator) -> AsyncIterator[Scene]:
    async with open_scene(service_env, scene_sim) as opened:
        yield opened
