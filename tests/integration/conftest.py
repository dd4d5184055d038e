# SPDX-License-Identifier: LGPL-2.1-or-later
import pytest

from gunyah_harness import Env


@pytest.fixture
def env():
    e = Env()
    e.daemon.start()
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def gd(env):
    """The running daemon of env."""
    return env.daemon
