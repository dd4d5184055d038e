// SPDX-License-Identifier: LGPL-2.1-or-later
// gunyahd as the page sees it: the VMs under /org/gunyah/Manager1, kept
// current by cockpit.js from the daemon's ObjectManager (VMs added and
// removed) and PropertiesChanged signals (everything else). No polling.

export const BUS_NAME = "org.gunyah.Manager1";
export const MANAGER_PATH = "/org/gunyah/Manager1";
export const MANAGER_IFACE = "org.gunyah.Manager1";
export const VM_IFACE = "org.gunyah.VM1";

const HISTORY_MAX = 20;
const INTERACTIVE = { flags: "i" };

/* What the page knows about one VM beyond its D-Bus properties. */
class VmEntry {
    constructor(proxy) {
        this.proxy = proxy;
        this.signalled = null;
        this.history = [];
        this.stopTimeoutSec = null; /* set while a Stop this page asked for is pending */
        this.observe();
    }

    get path() { return this.proxy.path }
    get name() { return this.proxy.Name }
    /* The state from the last PropertiesChanged signal: cockpit's property
     * cache may fold quick changes (running, then stopping) into one update. */
    get state() { return this.signalled ? this.signalled.state : this.proxy.State }
    get reason() { return (this.signalled ? this.signalled.reason : this.proxy.StateReason) || "" }

    /* changed: the a{sv} of a PropertiesChanged signal of org.gunyah.VM1. */
    signal(changed) {
        if (!changed.State)
            return false;
        this.signalled = {
            state: changed.State.v,
            reason: changed.StateReason ? changed.StateReason.v : this.reason,
        };
        this.observe();
        return true;
    }

    /* Records each (state, reason) the signals carried, however briefly it lasted. */
    observe() {
        const last = this.history[this.history.length - 1];
        if (last && last.state === this.state && last.reason === this.reason)
            return;
        this.history.push({ time: new Date(), state: this.state, reason: this.reason });
        if (this.history.length > HISTORY_MAX)
            this.history.shift();
        if (this.state === "starting")
            this.stopTimeoutSec = null; /* a new run: an earlier Stop no longer explains anything */
    }

    /* How the last Stop ended, in words, or "" when it is not about a Stop. */
    stopOutcome() {
        if (this.state === "stopping" && this.reason.startsWith("stop-requested")) {
            const timeout = this.stopTimeoutSec !== null ? ` It is forced off after ${this.stopTimeoutSec} s.` : "";
            return `Asked the guest to power off.${timeout}`;
        }
        if (this.state !== "stopped")
            return "";
        if (this.reason.startsWith("killed: stop timeout")) {
            const within = this.stopTimeoutSec !== null ? ` within ${this.stopTimeoutSec} s` : " within the timeout";
            return `Forced off: the guest did not power off${within}.`;
        }
        if (this.reason.startsWith("shutdown"))
            return "Stopped gracefully: the guest powered off when asked.";
        if (this.reason.startsWith("killed"))
            return "Forced off (killed).";
        return "";
    }
}

export class Model {
    constructor() {
        this.listeners = [];
        this.vms = new Map(); /* object path -> VmEntry */
        this.ready = false;
        this.problem = null;
        this.client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });
        this.manager = this.client.proxy(MANAGER_IFACE, MANAGER_PATH);
        this.proxies = this.client.proxies(VM_IFACE, MANAGER_PATH);

        this.client.addEventListener("close", (event, options) => {
            this.problem = options.problem || "disconnected";
            this.emit();
        });
        this.proxies.addEventListener("added", (event, proxy) => this.track(proxy));
        this.proxies.addEventListener("changed", (event, proxy) => {
            const entry = this.vms.get(proxy.path) || this.track(proxy);
            entry.observe();
            this.emit(entry);
        });
        this.proxies.addEventListener("removed", (event, proxy) => {
            this.vms.delete(proxy.path);
            this.emit();
        });
        this.manager.addEventListener("changed", () => this.emit());
        /* Every state change as it happens, however short (see VmEntry.state). */
        this.client.subscribe({ interface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged",
                                path_namespace: MANAGER_PATH },
                              (path, iface, member, [changedIface, changed]) => {
                                  const entry = this.vms.get(path);
                                  if (changedIface === VM_IFACE && entry && entry.signal(changed))
                                      this.emit(entry);
                              });
        Promise.all([this.proxies.wait(), this.manager.wait()]).then(() => {
            for (const path of Object.keys(this.proxies))
                this.track(this.proxies[path]);
            this.ready = true;
            this.emit();
        });
    }

    track(proxy) {
        let entry = this.vms.get(proxy.path);
        if (!entry) {
            entry = new VmEntry(proxy);
            this.vms.set(proxy.path, entry);
            this.emit(entry);
        }
        return entry;
    }

    /* VMs sorted by name. */
    list() {
        return [...this.vms.values()].filter(e => e.proxy.valid && e.name)
                .sort((a, b) => a.name.localeCompare(b.name));
    }

    byName(name) {
        return this.list().find(e => e.name === name) || null;
    }

    onChange(callback) {
        this.listeners.push(callback);
    }

    emit(entry = null) {
        for (const callback of this.listeners)
            callback(entry);
    }

    /* Changes go through polkit: "i" lets it ask an administrator who is not
     * root for their password (Cockpit's bridge answers as the agent). */
    callVm(entry, method, args = []) {
        return this.client.call(entry.path, VM_IFACE, method, args, INTERACTIVE);
    }

    setAutostart(entry, enabled) {
        return this.client.call(entry.path, "org.freedesktop.DBus.Properties", "Set",
                                [VM_IFACE, "Autostart", cockpit.variant("b", enabled)], INTERACTIVE);
    }

    createVm(spec, flags) {
        return this.client.call(MANAGER_PATH, MANAGER_IFACE, "CreateVM", [spec, flags], INTERACTIVE);
    }
}

/* CreateVM flags, org.gunyah.Manager1(5). */
export const CREATE_PERSIST = 0x1;
export const CREATE_START = 0x2;
