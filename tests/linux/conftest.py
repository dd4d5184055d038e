# SPDX-License-Identifier: LGPL-2.1-or-later
import pytest

import linux_guest
from gunyah_fixtures import env, gd  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def gdir():
    """The Linux guest set's directory, fetched on first use; the tests skip
    only when apt cannot reach Debian's registry."""
    try:
        return linux_guest.guest_dir()
    except linux_guest.Unreachable as e:
        pytest.skip(str(e))


@pytest.fixture
def qemu_runs():
    """QEMU runs (linux_guest.Qemu) a test appends to, killed and closed after it."""
    runs = []
    yield runs
    for q in runs:
        q.close()


_outcomes = set()


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        _outcomes.add(report.outcome)


def pytest_sessionfinish(session, exitstatus):
    # meson reports SKIP, not OK, when nothing ran (no Linux guest set)
    if _outcomes == {"skipped"} and exitstatus == 0:
        session.exitstatus = 77
