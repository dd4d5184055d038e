# SPDX-License-Identifier: LGPL-2.1-or-later
"""The pytest fixtures every suite on a real gunyahd uses; a conftest.py
imports them (pytest finds fixtures imported into a conftest)."""
import pytest

from gunyah_harness import Env


@pytest.fixture
def env():
    """A private dbus-daemon and a started gunyahd, torn down even on failure."""
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
