// SPDX-License-Identifier: LGPL-2.1-or-later
// Small helpers the page's modules share: DOM building and value formatting.

/* Creates an element; attrs go to properties (class -> className), text becomes its text. */
export function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (key === "class")
            node.className = value;
        else if (key.startsWith("data-") || key.startsWith("aria-"))
            node.setAttribute(key, value);
        else
            node[key] = value;
    }
    for (const child of children)
        node.append(child);
    return node;
}

/* Replaces text only when it differs, so observers see real changes only. */
export function setText(node, text) {
    if (node.textContent !== text)
        node.textContent = text;
}

export function formatBytes(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = Number(bytes);
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1 && value % 1024 === 0) {
        value /= 1024;
        unit++;
    }
    return `${value} ${units[unit]}`;
}

/* D-Bus timestamps are realtime microseconds; 0 means "not yet". */
export function formatTimestamp(usec) {
    const n = Number(usec);
    if (!n)
        return "—";
    return new Date(n / 1000).toLocaleString();
}

export function formatTime(date) {
    return date.toLocaleTimeString([], { hour12: false });
}

export function hex(n, width = 0) {
    return "0x" + Number(n).toString(16).padStart(width, "0");
}

/* A D-Bus error (cockpit.js DBusError) or a channel problem, in words. */
export function errorText(ex) {
    if (!ex)
        return "unknown error";
    if (ex.message)
        return ex.message;
    if (ex.problem)
        return cockpit.message(ex);
    return String(ex);
}

/* The short name of a D-Bus error: org.gunyah.Manager1.Error.InvalidSpec -> InvalidSpec. */
export function errorName(ex) {
    return ex && ex.name ? ex.name.substring(ex.name.lastIndexOf(".") + 1) : "";
}

/* cockpit.js hands an "ay" over as base64. */
export function bytesFromBase64(b64) {
    const raw = window.atob(b64 || "");
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++)
        bytes[i] = raw.charCodeAt(i);
    return bytes;
}
