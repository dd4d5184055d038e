// SPDX-License-Identifier: LGPL-2.1-or-later
// A VM's serial console in an xterm.js terminal. Cockpit cannot hand the
// browser the file descriptor OpenConsole() returns, so, as cockpit-machines
// does with "virsh console", the page runs "gunyahctl console NAME" in a
// Cockpit stream channel on a pty: gunyahctl calls OpenConsole() on the
// system bus as the logged-in user (polkit action org.gunyah.console), copies
// the guest's output to the pty and what is typed to the guest.

import { errorText } from "./util.js";

export class VmConsole {
    constructor(container, statusNode) {
        this.container = container;
        this.statusNode = statusNode;
        this.channel = null;
        this.name = null;
        this.term = new window.Terminal({
            cols: 80,
            rows: 24,
            convertEol: true, /* the guests write "\n"; the pty is raw */
            rendererType: "dom",
            scrollback: 2000,
            fontFamily: "RedHatMono, Menlo, Monaco, Consolas, monospace",
        });
        this.term.open(container);
        this.term.on("data", data => {
            if (this.channel && this.channel.valid)
                this.channel.send(data);
        });
    }

    status(text) {
        this.statusNode.textContent = text;
    }

    /* Attaches to VM name's console; replaces an earlier attachment. */
    connect(name) {
        this.disconnect();
        if (this.name !== name)
            this.term.reset();
        this.name = name;
        this.status(`Connecting to the console of ${name}…`);
        const channel = cockpit.channel({
            payload: "stream",
            spawn: ["gunyahctl", "console", name],
            pty: true,
            window: { rows: this.term.rows, cols: this.term.cols },
            environ: ["TERM=xterm-256color"],
            superuser: "try",
            err: "out",
        });
        this.channel = channel;
        channel.addEventListener("ready", () => {
            if (this.channel === channel)
                this.status(`Connected to the console of ${name}. Typing goes to the guest.`);
        });
        channel.addEventListener("message", (event, data) => this.term.write(data));
        channel.addEventListener("close", (event, options) => {
            if (this.channel !== channel)
                return;
            this.channel = null;
            if (options.problem)
                this.status(`Console of ${name} unavailable: ${errorText(options)}`);
            else if (options["exit-status"])
                this.status(`Console of ${name} closed (gunyahctl exited with ${options["exit-status"]}).`);
            else
                this.status(`Console of ${name} closed: the VM is not running.`);
        });
    }

    disconnect() {
        if (this.channel) {
            const channel = this.channel;
            this.channel = null;
            channel.close();
        }
    }

    get connected() {
        return this.channel !== null;
    }
}
