# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures: one gunyahd, cockpit-ws and Chromium for the whole file (each
test uses VMs of its own names), and the page opened afresh per test."""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from cockpit_harness import Browser, CockpitWs, install_page  # noqa: E402
from gunyah_harness import Env, spec_json  # noqa: E402


class Stack:
    def __init__(self):
        self.env = Env()
        self.cockpit = None
        self.browser = None
        self.page_dir = tempfile.mkdtemp(prefix="gunyah-cockpit-")
        try:
            # a definition the administrator wrote: the API may not change it
            with open(os.path.join(self.env.daemon.dirs["etc"], "admin-vm.json"), "w") as f:
                f.write(spec_json("admin-vm", "hello"))
            self.env.daemon.start()
            share = install_page(os.path.join(self.page_dir, "root"))
            self.cockpit = CockpitWs(self.page_dir, self.env.bus.address, share)
            self.browser = Browser(self.page_dir)
        except BaseException:
            self.close()
            raise

    @property
    def daemon(self):
        return self.env.daemon

    def close(self):
        for part in (self.browser and self.browser.quit, self.cockpit and self.cockpit.stop, self.env.close):
            if part:
                try:
                    part()
                except Exception as e:  # keep tearing down the rest
                    print(f"teardown: {e}", file=sys.stderr)
        shutil.rmtree(self.page_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def page(stack):
    """The browser with the page loaded and connected to gunyahd."""
    stack.browser.open(stack.cockpit.url)
    return stack.browser
