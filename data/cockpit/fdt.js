// SPDX-License-Identifier: LGPL-2.1-or-later
// A flattened devicetree (the bytes GetDeviceTree() returns) as dts text,
// formatted the way dtc prints values: strings, <cells> or [bytes].

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_NOP = 4, FDT_END = 9;

function cString(bytes, offset) {
    let end = offset;
    while (end < bytes.length && bytes[end] !== 0)
        end++;
    if (end >= bytes.length)
        throw new Error(`unterminated string at offset ${offset}`);
    return [new TextDecoder().decode(bytes.subarray(offset, end)), end + 1];
}

function isStringList(value) {
    if (value.length === 0 || value[value.length - 1] !== 0 || value[0] === 0)
        return false;
    for (let i = 0; i < value.length; i++) {
        const c = value[i];
        if (c === 0) {
            if (i > 0 && value[i - 1] === 0)
                return false; /* an empty string inside: rather bytes */
        } else if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

function formatValue(value) {
    if (isStringList(value)) {
        const strings = new TextDecoder().decode(value.subarray(0, value.length - 1)).split("\0");
        return strings.map(s => JSON.stringify(s)).join(", ");
    }
    if (value.length % 4 === 0) {
        const view = new DataView(value.buffer, value.byteOffset, value.length);
        const cells = [];
        for (let i = 0; i < value.length; i += 4)
            cells.push("0x" + view.getUint32(i).toString(16));
        return `<${cells.join(" ")}>`;
    }
    return `[${Array.from(value, b => b.toString(16).padStart(2, "0")).join(" ")}]`;
}

function align4(n) {
    return (n + 3) & ~3;
}

/* Returns the dts text; throws an Error naming what is malformed. */
export function fdtToDts(bytes) {
    if (bytes.length < 40)
        throw new Error(`${bytes.length} bytes are too few for a devicetree header`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (view.getUint32(0) !== FDT_MAGIC)
        throw new Error("not a flattened devicetree (bad magic)");
    const structOff = view.getUint32(8), stringsOff = view.getUint32(12), rsvOff = view.getUint32(16);
    const lines = ["/dts-v1/;", ""];

    for (let off = rsvOff; off + 16 <= bytes.length; off += 16) {
        const addr = view.getBigUint64(off), size = view.getBigUint64(off + 8);
        if (addr === 0n && size === 0n)
            break;
        lines.push(`/memreserve/ 0x${addr.toString(16)} 0x${size.toString(16)};`);
    }

    let depth = 0;
    let off = structOff;
    const indent = () => "\t".repeat(depth);
    for (;;) {
        if (off + 4 > bytes.length)
            throw new Error("devicetree structure runs past the end");
        const token = view.getUint32(off);
        off += 4;
        if (token === FDT_BEGIN_NODE) {
            const [name, next] = cString(bytes, off);
            off = align4(next);
            lines.push(`${indent()}${name || "/"} {`);
            depth++;
        } else if (token === FDT_END_NODE) {
            depth--;
            lines.push(`${indent()}};`);
        } else if (token === FDT_PROP) {
            const len = view.getUint32(off), nameOff = view.getUint32(off + 4);
            const [name] = cString(bytes, stringsOff + nameOff);
            const value = bytes.subarray(off + 8, off + 8 + len);
            off = align4(off + 8 + len);
            lines.push(len === 0 ? `${indent()}${name};` : `${indent()}${name} = ${formatValue(value)};`);
        } else if (token === FDT_NOP) {
            continue;
        } else if (token === FDT_END) {
            break;
        } else {
            throw new Error(`unknown devicetree token ${token} at offset ${off - 4}`);
        }
    }
    return lines.join("\n") + "\n";
}
