// SPDX-License-Identifier: LGPL-2.1-or-later
// One VM in detail: its properties, its last exit in readable form, the
// state changes the page saw, its serial console and its devicetree.

import { el, hex, formatBytes, formatTimestamp, formatTime, errorText, bytesFromBase64 } from "./util.js";
import { fdtToDts } from "./fdt.js";
import { VmConsole } from "./console.js";

const $ = id => document.getElementById(id);

/* Gunyah's VM status values (exit info "status"). */
const VM_STATUS = { 0: "running", 1: "load failed", 2: "exited", 3: "crashed" };

function fillList(dl, pairs) {
    dl.replaceChildren(...pairs.flatMap(([term, value]) => [
        el("dt", {}, term),
        el("dd", { "data-key": term }, value),
    ]));
}

/* ExitInfo a{sv} (cockpit.js variants: {t, v}) as (label, text) pairs. */
export function exitInfoPairs(exitInfo, stateReason) {
    const v = key => exitInfo[key] ? exitInfo[key].v : undefined;
    if (v("status") === undefined)
        return [["Exit", "The VM has not ended yet."]];
    const reasonBytes = bytesFromBase64(v("reason"));
    const pairs = [
        ["Reason", stateReason || "—"],
        ["Exit type", `${v("exit_type_name") || "—"} (${v("exit_type")})`],
        ["VM status", `${VM_STATUS[v("status")] || "unknown"} (${v("status")})`],
        ["Raw reason", reasonBytes.length
            ? Array.from(reasonBytes, b => b.toString(16).padStart(2, "0")).join(" ") + ` (${v("reason_size")} bytes)`
            : "none"],
        ["Reported by", v("vcpu") >= 0 ? `vCPU ${v("vcpu")}` : "the daemon"],
        ["Time", formatTimestamp(v("timestamp"))],
    ];
    if (v("signal") !== undefined)
        pairs.push(["Worker", v("signal") ? `killed by signal ${v("signal")}` : `exited with code ${v("exit_code")}`]);
    if (v("errno") !== undefined)
        pairs.push(["Error", `${v("errno_name")} (${v("errno")})`]);
    if (v("step") !== undefined)
        pairs.push(["Failed step", v("step")]);
    if (v("fault_address") !== undefined)
        pairs.push(["Fault address", hex(v("fault_address"))]);
    return pairs;
}

export class Details {
    constructor(model) {
        this.model = model;
        this.entry = null;
        this.tab = "overview";
        this.console = null;
        $("details-close").addEventListener("click", () => this.show(null));
        for (const button of document.querySelectorAll("[data-tab]"))
            button.addEventListener("click", () => this.selectTab(button.dataset.tab));
        $("console-reconnect").addEventListener("click", () => this.connectConsole());
        $("devicetree-refresh").addEventListener("click", () => this.loadDevicetree());
    }

    show(entry) {
        if (this.console && (!entry || entry !== this.entry))
            this.console.disconnect();
        this.entry = entry;
        $("details").hidden = !entry;
        if (!entry)
            return;
        this.lastState = entry.state;
        this.selectTab(this.tab);
        this.render();
        $("details").scrollIntoView({ block: "nearest" });
    }

    selectTab(tab) {
        this.tab = tab;
        for (const button of document.querySelectorAll("[data-tab]"))
            button.classList.toggle("pf-m-current", button.dataset.tab === tab);
        for (const panel of document.querySelectorAll("[data-panel]"))
            panel.hidden = panel.dataset.panel !== tab;
        if (tab === "console" && this.entry && !(this.console && this.console.connected))
            this.connectConsole();
        if (tab === "devicetree")
            this.loadDevicetree();
    }

    connectConsole() {
        if (!window.Terminal) {
            $("console-status").textContent = "The console needs xterm.js, which was not installed with this page.";
            return;
        }
        if (!this.console)
            this.console = new VmConsole($("console-terminal"), $("console-status"));
        this.console.connect(this.entry.name);
    }

    async loadDevicetree() {
        const pre = $("devicetree");
        const entry = this.entry;
        pre.textContent = "Loading…";
        try {
            const [dtb] = await this.model.callVm(entry, "GetDeviceTree");
            if (entry === this.entry)
                pre.textContent = fdtToDts(bytesFromBase64(dtb));
        } catch (ex) {
            if (entry === this.entry)
                pre.textContent = `Cannot show the devicetree: ${errorText(ex)}`;
        }
    }

    /* Called on every model change; entry is the VM that changed, if known. */
    update(entry) {
        if (!this.entry)
            return;
        if (!this.model.vms.has(this.entry.path)) {
            this.show(null);
            return;
        }
        if (entry && entry !== this.entry)
            return;
        /* A console left by a VM that ended comes back when it runs again. */
        if (this.tab === "console" && this.entry.state === "running" && this.lastState !== "running" &&
            !(this.console && this.console.connected))
            this.connectConsole();
        this.lastState = this.entry.state;
        this.render();
    }

    render() {
        const e = this.entry;
        const p = e.proxy;
        $("details-name").textContent = e.name;
        fillList($("details-props"), [
            ["State", e.state],
            ["Reason", e.reason || "—"],
            ["vCPUs", String(p.VCPUs)],
            ["Memory", formatBytes(p.MemorySize)],
            ["Autostart", p.Autostart ? "yes" : "no"],
            ["Persistent", p.Persistent ? "yes" : "no (not kept across daemon restarts)"],
            ["UUID", p.UUID],
            ["Created", formatTimestamp(p.CreatedTimestamp)],
            ["Started", formatTimestamp(p.StartedTimestamp)],
            ["Stopped", formatTimestamp(p.StoppedTimestamp)],
            ["Worker PIDs", (p.WorkerPIDs || []).join(", ") || "—"],
            ["Crash restarts", `${p.CrashRestartCount} of ${p.CrashRestartLimit}`],
        ]);
        fillList($("exit-info"), exitInfoPairs(p.ExitInfo || {}, e.reason));
        $("vm-history").replaceChildren(...e.history.map(h =>
            el("li", { "data-state": h.state }, `${formatTime(h.time)} ${h.state}${h.reason ? ` (${h.reason})` : ""}`)));
    }
}
