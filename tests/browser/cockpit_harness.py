# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cockpit and a headless Chromium for the page's tests.

The page is installed from the build directory the way `meson install` does
it (`--tags cockpit` into a temporary DESTDIR), cockpit-ws serves it with
`--no-tls --local-session=cockpit-bridge` on a loopback port (the test runs
in its own network namespace: run-browser-tests.py), and the bridge reaches
the test's gunyahd through DBUS_SYSTEM_BUS_ADDRESS. Paths come from the
environment meson test sets: MESON, MESON_BUILD_ROOT, GUNYAHCTL,
GUNYAH_SCREENSHOT_DIR."""
import glob
import os
import socket
import subprocess
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"


def install_page(destdir):
    """meson install --tags cockpit into destdir; returns the share dir holding cockpit/gunyah."""
    p = subprocess.run([os.environ["MESON"], "install", "-C", os.environ["MESON_BUILD_ROOT"], "--no-rebuild",
                        "--quiet", "--tags", "cockpit", "--destdir", destdir], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"meson install --tags cockpit failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    manifests = glob.glob(os.path.join(destdir, "**", "cockpit", "gunyah", "manifest.json"), recursive=True)
    if len(manifests) != 1:
        raise RuntimeError(f"meson install put no single cockpit/gunyah/manifest.json under {destdir}: {manifests}")
    return os.path.dirname(os.path.dirname(os.path.dirname(manifests[0])))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CockpitWs:
    """cockpit-ws with a local session: no login, the bridge runs as this user."""

    def __init__(self, workdir, bus_address, share_dir):
        self.port = free_port()
        self.log_path = os.path.join(workdir, "cockpit-ws.log")
        env = dict(os.environ,
                   DBUS_SYSTEM_BUS_ADDRESS=bus_address,
                   XDG_DATA_DIRS=f"{share_dir}:/usr/local/share:/usr/share",
                   PATH=os.path.dirname(os.environ["GUNYAHCTL"]) + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([COCKPIT_WS, "--no-tls", "--address=127.0.0.1", f"--port={self.port}",
                                          "--local-session=cockpit-bridge"],
                                         stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/cockpit/@localhost/gunyah/index.html"
        self.wait_serving()

    def wait_serving(self, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cockpit-ws exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"cockpit-ws did not serve {self.url} in {timeout}s ({last}):\n{self.read_log()}")

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


class Browser:
    """Headless Chromium through chromedriver, with the waits the tests need."""

    def __init__(self, workdir):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", f"--user-data-dir={workdir}/chromium", "--no-first-run"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service("/usr/bin/chromedriver", log_path=os.path.join(workdir, "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.screenshot_dir = os.environ["GUNYAH_SCREENSHOT_DIR"]
        os.makedirs(self.screenshot_dir, exist_ok=True)

    def open(self, url):
        self.driver.get(url)
        self.wait_js("return !!(window.gunyahPage && window.gunyahPage.model.ready)", 20,
                     "the page did not connect to gunyahd")

    def wait(self, predicate, timeout, what, poll=0.05):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=poll).until(lambda d: predicate())
        except Exception as e:
            raise AssertionError(f"{what} (waited {timeout}s)\nconsole log:\n{self.console_log()}") from e

    def wait_js(self, script, timeout, what):
        return self.wait(lambda: self.driver.execute_script(script), timeout, what)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        elems = self.find_all(css)
        return elems[0].text if elems else None

    def row(self, name):
        return f'#vm-rows tr[data-vm="{name}"]'

    def screenshot(self, name):
        path = os.path.join(self.screenshot_dir, name + ".png")
        self.driver.save_screenshot(path)
        return path

    def console_log(self):
        try:
            return "\n".join(f"{e['level']} {e['message']}" for e in self.driver.get_log("browser"))
        except Exception:
            return "(no browser log)"

    def quit(self):
        self.driver.quit()
