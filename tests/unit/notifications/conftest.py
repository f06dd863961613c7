"""Fixtures of the notification unit tests (fakes live in ``fakes.py``)."""

from __future__ import annotations

import pytest

from tests.unit.notifications.fakes import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()
