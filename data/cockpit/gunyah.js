// SPDX-License-Identifier: LGPL-2.1-or-later
// The Cockpit page of gunyahd: wires the model (D-Bus), the VM table, the
// create panel and the details together, and turns the verbs into calls.

import { Model } from "./model.js";
import { VmList } from "./vm-list.js";
import { CreatePanel } from "./create.js";
import { Details } from "./details.js";
import { ask } from "./dialog.js";
import { errorText } from "./util.js";

const $ = id => document.getElementById(id);
const DEFAULT_STOP_TIMEOUT_SEC = 30;

function showAlert(text) {
    $("page-alert-text").textContent = text;
    $("page-alert").hidden = !text;
}

/* Runs one verb; a refusal is shown in the D-Bus error's own words. */
async function run(what, call) {
    try {
        await call();
    } catch (ex) {
        showAlert(`${what} failed: ${errorText(ex)}`);
        throw ex;
    }
}

function init() {
    const model = new Model();
    const details = new Details(model);

    const actions = {
        select: entry => details.show(entry),
        start: entry => run(`Start of ${entry.name}`, () => model.callVm(entry, "Start")).catch(() => {}),
        async stop(entry) {
            const seconds = await ask({
                title: `Stop ${entry.name}?`,
                text: "The guest is asked to power off. If it has not stopped when the timeout runs out, it is forced off.",
                confirm: "Stop",
                number: { label: "Timeout (seconds)", value: DEFAULT_STOP_TIMEOUT_SEC },
            });
            if (seconds === null)
                return;
            entry.stopTimeoutSec = seconds;
            await run(`Stop of ${entry.name}`, () => model.callVm(entry, "Stop", [Math.round(seconds * 1e6)]))
                    .catch(() => { entry.stopTimeoutSec = null });
            list.render();
        },
        kill: entry => run(`Kill of ${entry.name}`, () => model.callVm(entry, "Kill")).catch(() => {}),
        async destroy(entry) {
            const yes = await ask({
                title: `Destroy ${entry.name}?`,
                text: "The VM is forced off if it runs, and its definition is removed.",
                confirm: "Destroy",
                danger: true,
            });
            if (yes)
                await run(`Destroy of ${entry.name}`, () => model.callVm(entry, "Destroy")).catch(() => {});
        },
        autostart: (entry, on) =>
            run(`Changing autostart of ${entry.name}`, () => model.setAutostart(entry, on))
                    .catch(() => list.resetAutostart(entry)),
    };
    const list = new VmList(model, actions);
    new CreatePanel(model, name => {
        const entry = name && model.byName(name);
        if (entry)
            details.show(entry);
    });

    $("page-alert-close").addEventListener("click", () => showAlert(""));
    model.onChange(entry => {
        list.render();
        details.update(entry);
        const m = model.manager;
        if (model.problem)
            showAlert(`Cannot reach gunyahd: ${cockpit.message({ problem: model.problem })}`);
        else if (model.ready && !m.valid)
            showAlert("gunyahd is not running (org.gunyah.Manager1 is not on the system bus).");
        $("daemon-info").textContent = m.valid ? `gunyahd ${m.Version}, backend ${m.Backend}${m.ABI ? ", " + m.ABI : ""}` : "";
    });
    window.gunyahPage = { model, list, details }; /* for the browser tests and the curious */
}

if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", init);
else
    init();
