// SPDX-License-Identifier: LGPL-2.1-or-later
// Creating a VM from a spec typed into a JSON editor. gunyahd checks the
// spec; its InvalidSpec message ("memory.size: must be ...") is shown next to
// the editor with the JSON path set apart.

import { errorName, errorText } from "./util.js";
import { CREATE_PERSIST, CREATE_START } from "./model.js";

const $ = id => document.getElementById(id);

const TEMPLATE = {
    name: "new-vm",
    vcpus: 1,
    memory: { size: "64M" },
    kernel: { path: "/var/lib/gunyah/images/Image", cmdline: "console=ttyAMA0" },
};

/* "memory.size: must be ..." -> ["memory.size", "must be ..."]; a message without a path stays whole. */
export function splitSpecError(message) {
    const match = /^([A-Za-z_$][\w.$[\]-]*): (.*)$/s.exec(message);
    return match ? [match[1], match[2]] : ["", message];
}

export class CreatePanel {
    constructor(model, onCreated) {
        this.model = model;
        this.onCreated = onCreated;
        this.panel = $("create-panel");
        $("create-button").addEventListener("click", () => this.open());
        $("create-cancel").addEventListener("click", () => this.close());
        this.panel.addEventListener("submit", event => {
            event.preventDefault();
            this.submit();
        });
    }

    open() {
        if (!$("spec-editor").value)
            $("spec-editor").value = JSON.stringify(TEMPLATE, null, 2);
        this.showError(null);
        this.panel.hidden = false;
        $("spec-editor").focus();
    }

    close() {
        this.panel.hidden = true;
    }

    showError(path, message) {
        const box = $("spec-error");
        box.hidden = message === undefined;
        $("spec-error-path").textContent = path || "";
        $("spec-error-path").hidden = !path;
        $("spec-error-message").textContent = message || "";
        $("spec-editor").setAttribute("aria-invalid", message === undefined ? "false" : "true");
    }

    async submit() {
        const text = $("spec-editor").value;
        const flags = ($("create-persist").checked ? CREATE_PERSIST : 0) | ($("create-start").checked ? CREATE_START : 0);
        const button = $("create-submit");
        button.disabled = true;
        try {
            await this.model.createVm(text, flags);
            this.showError(null);
            this.close();
            let name = null;
            try {
                name = JSON.parse(text).name;
            } catch (ex) { /* the daemon accepted it: it parses */ }
            this.onCreated(name);
        } catch (ex) {
            if (errorName(ex) === "InvalidSpec") {
                const [path, message] = splitSpecError(errorText(ex));
                this.showError(path, message);
            } else {
                this.showError("", errorText(ex));
            }
        } finally {
            button.disabled = false;
        }
    }
}
