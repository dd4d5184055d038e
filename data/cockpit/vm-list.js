// SPDX-License-Identifier: LGPL-2.1-or-later
// The table of VMs: one row per VM, updated in place when its properties
// change, with the actions its state allows.

import { el, setText, formatBytes } from "./util.js";

/* Which verbs make sense in which state (the daemon decides; this only greys out). */
const ACTIONS = [
    { verb: "start", label: "Start", states: ["defined", "stopped", "failed"] },
    { verb: "stop", label: "Stop", states: ["running"] },
    { verb: "kill", label: "Kill", states: ["starting", "running", "stopping"] },
    { verb: "destroy", label: "Destroy", states: null, danger: true },
];

export class VmList {
    /* actions: { start(entry), stop(entry), kill(entry), destroy(entry), autostart(entry, on), select(entry) } */
    constructor(model, actions) {
        this.model = model;
        this.actions = actions;
        this.tbody = document.getElementById("vm-rows");
        this.rows = new Map(); /* path -> row elements */
    }

    render() {
        const entries = this.model.list();
        const seen = new Set();
        for (const entry of entries) {
            seen.add(entry.path);
            const row = this.rows.get(entry.path) || this.createRow(entry);
            this.update(row, entry);
            this.tbody.append(row.tr); /* keeps the sorted order; a no-op move when in place */
        }
        for (const [path, row] of this.rows) {
            if (!seen.has(path)) {
                row.tr.remove();
                this.rows.delete(path);
            }
        }
        document.getElementById("vm-loading").hidden = this.model.ready;
        document.getElementById("vm-empty").hidden = !this.model.ready || entries.length > 0;
    }

    createRow(entry) {
        /* The content sits in one box: on narrow screens the cell is a (label, content) grid. */
        const cell = (cls, label, ...children) =>
            el("td", { class: cls, "data-label": label }, el("div", { class: "gy-cell" }, ...children));
        const nameButton = el("button", { class: "pf-c-button pf-m-link pf-m-inline gy-vm-link", type: "button" });
        nameButton.addEventListener("click", () => this.actions.select(entry));
        const stateText = el("span", { class: "gy-state" });
        const reasonText = el("span", { class: "gy-reason" });
        const notice = el("div", { class: "gy-notice" });
        const autostart = el("input", { type: "checkbox", class: "gy-autostart", "aria-label": "Autostart" });
        autostart.addEventListener("change", () => this.actions.autostart(entry, autostart.checked));
        const buttons = {};
        const actionBox = el("div", { class: "gy-actions" });
        for (const action of ACTIONS) {
            const button = el("button", {
                class: "pf-c-button " + (action.danger ? "pf-m-danger" : "pf-m-secondary"),
                type: "button",
                "data-action": action.verb,
            }, action.label);
            button.addEventListener("click", () => this.actions[action.verb](entry));
            buttons[action.verb] = button;
            actionBox.append(button);
        }
        const row = {
            tr: el("tr", { "data-vm": entry.name },
                   cell("vm-name", "Name", nameButton),
                   cell("vm-state", "State", stateText, " ", reasonText, notice),
                   cell("vm-vcpus", "vCPUs"),
                   cell("vm-memory", "Memory"),
                   cell("vm-autostart", "Autostart", autostart),
                   cell("vm-actions", "Actions", actionBox)),
            nameButton, stateText, reasonText, notice, autostart, buttons,
        };
        this.rows.set(entry.path, row);
        return row;
    }

    update(row, entry) {
        const p = entry.proxy;
        row.tr.setAttribute("data-state", entry.state);
        setText(row.nameButton, entry.name);
        setText(row.stateText, entry.state);
        row.stateText.className = `gy-state gy-state-${entry.state}`;
        setText(row.reasonText, entry.reason ? `(${entry.reason})` : "");
        setText(row.notice, entry.stopOutcome());
        setText(row.tr.querySelector(".vm-vcpus .gy-cell"), String(p.VCPUs));
        setText(row.tr.querySelector(".vm-memory .gy-cell"), formatBytes(p.MemorySize));
        if (document.activeElement !== row.autostart)
            row.autostart.checked = !!p.Autostart;
        for (const action of ACTIONS)
            row.buttons[action.verb].disabled = action.states !== null && !action.states.includes(entry.state);
    }

    /* Puts a checkbox back after a refused change. */
    resetAutostart(entry) {
        const row = this.rows.get(entry.path);
        if (row)
            row.autostart.checked = !!entry.proxy.Autostart;
    }
}
