"""Fixtures of the pure domain tests (no storage, no application)."""

from __future__ import annotations

import pytest

from tests.domain.helpers import World, build_world, make_deadline


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture(name="make_deadline")
def make_deadline_fixture():
    return make_deadline
