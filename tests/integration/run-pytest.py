# SPDX-License-Identifier: LGPL-2.1-or-later
"""How meson runs a pytest file: python3 run-pytest.py [pytest args] FILE.

pytest exits 0 when every test skipped, which meson would show as OK. Here a
run in which nothing passed and something skipped exits 77, meson's SKIP, and
-rs always lists why each skipped test skipped in the test log."""
import sys

import pytest

SKIP = 77


class Outcomes:
    def __init__(self):
        self.passed = 0
        self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.skipped:
            self.skipped += 1


def main(args):
    outcomes = Outcomes()
    rc = pytest.main(["-q", "-p", "no:cacheprovider", "-rs"] + args, plugins=[outcomes])
    if rc == pytest.ExitCode.OK and outcomes.passed == 0 and outcomes.skipped > 0:
        print(f"run-pytest: all {outcomes.skipped} tests skipped", file=sys.stderr)
        return SKIP
    return int(rc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
