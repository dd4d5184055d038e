#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs the Cockpit page's browser tests: run-browser-tests.py RUN_PYTEST TEST_FILE...

Checks that every component is installed (cockpit-ws, cockpit-bridge,
chromium, chromedriver, python3-selenium, unshare, ip); a missing one makes
the suite SKIP (exit 77) and says which, or fail when GUNYAH_REQUIRE_BROWSER=1.
Then it re-runs itself in a network namespace of its own (unshare -n, the
loopback brought up), so cockpit-ws listens on a loopback port no other test
or user sees, and hands over to run-pytest.py."""
import importlib.util
import os
import shutil
import subprocess
import sys

SKIP = 77
COMPONENTS = {
    "cockpit-ws": ("/usr/lib/cockpit/cockpit-ws", "cockpit-ws"),
    "cockpit-bridge": ("/usr/bin/cockpit-bridge", "cockpit-bridge"),
    "chromium": ("/usr/bin/chromium", "chromium"),
    "chromedriver": ("/usr/bin/chromedriver", "chromium-driver"),
    "unshare": (shutil.which("unshare") or "/usr/bin/unshare", "util-linux"),
    "ip": (shutil.which("ip") or "/usr/sbin/ip", "iproute2"),
}


def missing_components():
    missing = [f"{name} ({path}; Debian package {pkg})"
               for name, (path, pkg) in COMPONENTS.items() if not os.path.exists(path)]
    if os.environ.get("GUNYAH_COCKPIT_CONSOLE_MISSING"):
        missing.append("the page's console, built from " + os.environ["GUNYAH_COCKPIT_CONSOLE_MISSING"])
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium module (Debian package python3-selenium)")
    return missing


def give_up(why):
    if os.environ.get("GUNYAH_REQUIRE_BROWSER") == "1":
        print(f"browser tests: FAIL (GUNYAH_REQUIRE_BROWSER=1): {why}", file=sys.stderr)
        return 1
    print(f"browser tests: SKIP: {why}", file=sys.stderr)
    return SKIP


def main(argv):
    if "--in-netns" not in argv:
        missing = missing_components()
        if missing:
            return give_up("missing " + ", ".join(missing) + " (tools/setup.sh installs them)")
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            return give_up(f"cannot create a network namespace (unshare -n: {probe.stderr.strip()})")
        os.execvp("unshare", ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__),
                              "--in-netns", *argv])
    argv = [a for a in argv if a != "--in-netns"]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    run_pytest, tests = argv[0], argv[1:]
    spec = importlib.util.spec_from_file_location("run_pytest", run_pytest)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(tests)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
