# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page against a real gunyahd, in headless Chromium."""
import json

import dbus

from gunyah_harness import BUS_NAME, PROPS_IFACE, VM_IFACE, spec_json


def create(gd, name, guest, flags=0):
    return gd.manager().CreateVM(spec_json(name, guest), flags)


def listed(stack, page, name, guest, flags=0, run_to=None):
    """Creates VM name over D-Bus (started until state run_to, if given); its row once the page lists it."""
    create(stack.daemon, name, guest, flags)
    if run_to:
        stack.daemon.vm(name).Start()
        stack.daemon.wait_state(name, run_to)
    row = page.row(name)
    page.wait(lambda: page.find_all(row), 5, f"{name} is not listed")
    return row


def open_tab(page, row, tab):
    page.find(row + " .gy-vm-link").click()
    page.find(f"#tab-{tab}").click()


# Notes the page's clock when a row for VM arguments[0] appears; returns the clock now.
WATCH_FOR_ROW = """
const name = arguments[0];
window.rowSeenAt = null;
new MutationObserver((records, observer) => {
    if (document.querySelector(`#vm-rows tr[data-vm="${name}"]`)) {
        window.rowSeenAt = performance.now();
        observer.disconnect();
    }
}).observe(document.getElementById("vm-rows"), {childList: true});
return performance.now();
"""


def test_vm_created_over_the_api_appears_within_a_second(stack, page):
    # measured on the page's clock, so the WebDriver's polling adds nothing
    before = page.driver.execute_script(WATCH_FOR_ROW, "appears")
    create(stack.daemon, "appears", "hello")
    seen = page.wait(lambda: page.driver.execute_script("return window.rowSeenAt"), 10,
                     "the VM created over D-Bus is not listed")
    elapsed_ms = seen - before
    assert elapsed_ms < 1000, f"listed {elapsed_ms:.0f} ms after CreateVM was called"
    row = page.row("appears")
    assert page.text(row + " .gy-state") == "defined"
    assert page.text(row + " .vm-vcpus") == "1"
    assert page.text(row + " .vm-memory") == "64 MiB"
    page.screenshot("list-created")
    print(f"listed {elapsed_ms:.0f} ms after CreateVM was called")


# Records every text the row's state cell shows, however briefly.
RECORD_STATES = """
const cell = document.querySelector(arguments[0] + ' .gy-state');
window.seenStates = [cell.textContent];
// each record's added text node keeps the text it was given, even when
// several changes land before the observer runs
new MutationObserver(records => {
    for (const record of records)
        for (const node of record.addedNodes)
            window.seenStates.push(node.textContent);
}).observe(cell, {childList: true});
"""


def test_start_of_hello_shows_running_then_stopped_without_reload(stack, page):
    row = listed(stack, page, "hello-start", "hello")
    page.driver.execute_script("window.notReloaded = true;")
    page.driver.execute_script(RECORD_STATES, row)
    page.find(row + ' button[data-action="start"]').click()
    page.wait(lambda: page.text(row + " .gy-state") == "stopped", 20, "hello-start did not show stopped")
    assert page.text(row + " .gy-reason") == "(poweroff)"
    seen = page.driver.execute_script("return window.seenStates")
    assert "running" in seen and seen.index("running") < seen.index("stopped"), \
        f"the state cell showed {seen}, expected running before stopped"
    assert page.driver.execute_script("return window.notReloaded === true"), "the page reloaded"
    assert stack.daemon.state("hello-start") == ("stopped", "poweroff")
    # the details say how it ended, in words and raw values
    page.find(row + " .gy-vm-link").click()
    page.wait(lambda: "PSCI_POWER_OFF" in (page.text("#exit-info") or ""), 5, "no exit information shown")
    exit_info = page.text("#exit-info")
    assert "poweroff" in exit_info and "exited (2)" in exit_info, exit_info
    history = page.text("#vm-history").splitlines()
    states = [line.split(" ", 1)[1] for line in history]
    assert "running (start)" in states and states.index("running (start)") < states.index("stopped (poweroff)"), \
        f"the page's state history is {history}"
    page.screenshot("hello-stopped")


def test_console_tab_shows_the_guest_output(stack, page):
    row = listed(stack, page, "hello-console", "hello", run_to="stopped")
    open_tab(page, row, "console")
    page.wait(lambda: "Hello from gunyah guest" in page.text("#console-terminal .xterm-rows"), 10,
              "the console tab does not show the guest's output")
    page.screenshot("console-hello")


def test_typing_into_the_console_reaches_the_echo_guest(stack, page):
    row = listed(stack, page, "echo-console", "echo", run_to="running")
    open_tab(page, row, "console")
    terminal = "#console-terminal .xterm-rows"
    page.wait(lambda: "echo: ready" in page.text(terminal), 10, "the echo guest's greeting is not shown")
    page.wait(lambda: page.text("#console-status").startswith("Connected"), 5, "the console is not connected")
    page.find("#console-terminal .xterm-helper-textarea").send_keys("ping-42")
    # the pty is raw (no local echo): the text can only come back from the guest
    page.wait(lambda: "ping-42" in page.text(terminal), 10, "typed text did not come back from the guest")
    assert b"ping-42" in stack.daemon.console_log("echo-console"), "the guest did not receive the typed text"
    page.screenshot("console-echo")
    page.find("#console-terminal .xterm-helper-textarea").send_keys("\x04")  # Ctrl-D: the guest says bye
    page.wait(lambda: "echo: bye" in page.text(terminal), 10, "Ctrl-D did not reach the guest")
    page.wait(lambda: page.text(row + " .gy-state") == "stopped", 10, "echo-console did not stop")


def test_invalid_spec_shows_its_json_path(stack, page):
    page.find("#create-button").click()
    bad = {"name": "bad-spec", "vcpus": 1, "memory": {"size": 1000000},
           "kernel": {"path": "/nonexistent/Image"}}
    page.driver.execute_script("document.getElementById('spec-editor').value = arguments[0];", json.dumps(bad))
    page.find("#create-submit").click()
    page.wait(lambda: page.find("#spec-error").is_displayed(), 5, "no spec error shown")
    assert page.text("#spec-error-path") == "memory.size"
    assert "1000000" in page.text("#spec-error-message"), page.text("#spec-error-message")
    assert page.find("#create-panel").is_displayed()
    assert not page.find_all(page.row("bad-spec"))
    page.screenshot("create-invalid-spec")
    # a fixed spec is accepted and listed
    good = dict(bad, memory={"size": "64M"}, kernel={"path": json.loads(spec_json("x", "hello"))["kernel"]["path"]})
    page.driver.execute_script("document.getElementById('spec-editor').value = arguments[0];", json.dumps(good))
    page.find("#create-submit").click()
    page.wait(lambda: page.find_all(page.row("bad-spec")), 5, "the corrected spec did not create the VM")
    page.wait(lambda: not page.find("#create-panel").is_displayed(), 5, "the create panel did not close")


def test_stop_of_spin_reports_the_forced_path(stack, page):
    row = listed(stack, page, "spin-stop", "spin")
    page.find(row + ' button[data-action="start"]').click()
    page.wait(lambda: page.text(row + " .gy-state") == "running", 10, "spin-stop did not show running")
    page.screenshot("list-running")
    page.find(row + ' button[data-action="stop"]').click()
    page.wait(lambda: page.find("#modal").is_displayed(), 5, "no stop dialog")
    assert page.find("#modal-input").get_attribute("value") == "30", "the default timeout is not shown"
    timeout_input = page.find("#modal-input")
    timeout_input.clear()
    timeout_input.send_keys("3")
    page.find("#modal-confirm").click()
    page.wait(lambda: "forced off after 3 s" in page.text(row + " .gy-notice"), 5,
              "the pending stop and its timeout are not shown")
    page.wait(lambda: page.text(row + " .gy-state") == "stopped", 15, "spin-stop did not stop")
    notice = page.text(row + " .gy-notice")
    assert notice.startswith("Forced off") and "within 3 s" in notice, notice
    assert stack.daemon.state("spin-stop")[1].startswith("killed")
    page.screenshot("spin-forced-off")


def test_autostart_toggle_and_a_refusal_in_words(stack, page):
    row = listed(stack, page, "auto", "hello", flags=1)  # persist
    page.find(row + " .gy-autostart").click()
    page.wait(lambda: bool(stack.daemon.vm_props("auto")["Autostart"]), 5, "Autostart was not set over D-Bus")
    # an administrator's definition (in the config dir) is read-only: the daemon's words are shown
    row = page.row("admin-vm")
    page.wait(lambda: page.find_all(row), 5, "admin-vm is not listed")
    page.find(row + " .gy-autostart").click()
    page.wait(lambda: page.find("#page-alert").is_displayed(), 5, "no error shown")
    try:
        obj = stack.daemon.bus.conn.get_object(BUS_NAME, stack.daemon.vm_path("admin-vm"))
        obj.Set(VM_IFACE, "Autostart", dbus.Boolean(True), dbus_interface=PROPS_IFACE)
        raise AssertionError("the daemon let admin-vm's autostart be changed")
    except dbus.exceptions.DBusException as e:
        refusal = e.get_dbus_message()
    assert page.text("#page-alert-text") == f"Changing autostart of admin-vm failed: {refusal}"
    page.wait(lambda: not page.find(row + " .gy-autostart").is_selected(), 5, "the checkbox was not put back")
    assert not stack.daemon.vm_props("admin-vm")["Autostart"]


def test_devicetree_tab_shows_the_vm_devicetree(stack, page):
    row = listed(stack, page, "dt", "hello")
    open_tab(page, row, "devicetree")
    page.wait(lambda: (page.text("#devicetree") or "").startswith("/dts-v1/;"), 10, "no devicetree shown")
    dts = page.text("#devicetree")
    assert 'compatible = "arm,pl011"' in dts or '"arm,pl011"' in dts, dts
    assert "gunyah-vm-config" in dts, dts


def test_destroy_removes_the_row(stack, page):
    row = listed(stack, page, "doomed", "hello")
    page.find(row + ' button[data-action="destroy"]').click()
    page.wait(lambda: page.find("#modal").is_displayed(), 5, "no confirmation asked")
    page.find("#modal-confirm").click()
    page.wait(lambda: not page.find_all(row), 5, "the destroyed VM is still listed")
    assert "doomed" not in [str(v[0]) for v in stack.daemon.manager().ListVMs()]


def test_narrow_width_keeps_actions_reachable(stack, page):
    row = listed(stack, page, "narrow", "hello")
    page.driver.set_window_size(400, 900)
    try:
        width = page.driver.execute_script("return document.documentElement.scrollWidth")
        view = page.driver.execute_script("return window.innerWidth")
        assert width <= view, f"the page is {width}px wide in a {view}px window"
        assert page.find(row + ' button[data-action="start"]').is_displayed()
        page.screenshot("narrow")
    finally:
        page.driver.set_window_size(1280, 1000)


def test_kill_forces_a_running_vm_off(stack, page):
    row = listed(stack, page, "spin-kill", "spin", run_to="running")
    page.wait(lambda: page.text(row + " .gy-state") == "running", 5, "spin-kill is not shown running")
    page.find(row + ' button[data-action="kill"]').click()
    page.wait(lambda: page.text(row + " .gy-state") == "stopped", 10, "spin-kill did not stop")
    assert page.text(row + " .gy-reason") == "(killed)"
    assert page.text(row + " .gy-notice") == "Forced off (killed)."
