// SPDX-License-Identifier: LGPL-2.1-or-later
// The page's one modal dialog: a question, an optional number, confirm or cancel.

const $ = id => document.getElementById(id);

/* Resolves with the number entered (or true) on confirm, null on cancel. */
export function ask({ title, text, confirm, danger = false, number = null }) {
    const modal = $("modal");
    $("modal-title").textContent = title;
    $("modal-text").textContent = text;
    const confirmButton = $("modal-confirm");
    confirmButton.textContent = confirm;
    confirmButton.className = "pf-c-button " + (danger ? "pf-m-danger" : "pf-m-primary");
    const input = $("modal-input");
    $("modal-input-label").hidden = number === null;
    if (number !== null) {
        $("modal-input-caption").textContent = number.label;
        input.value = String(number.value);
    }
    modal.hidden = false;
    (number !== null ? input : confirmButton).focus();

    return new Promise(resolve => {
        const finish = result => {
            modal.hidden = true;
            confirmButton.onclick = null;
            $("modal-cancel").onclick = null;
            modal.onkeydown = null;
            resolve(result);
        };
        confirmButton.onclick = () => {
            if (number === null)
                return finish(true);
            const value = Number(input.value);
            if (!Number.isFinite(value) || value < 0) {
                input.setCustomValidity("a number of seconds, 0 or more");
                input.reportValidity();
                return;
            }
            input.setCustomValidity("");
            finish(value);
        };
        $("modal-cancel").onclick = () => finish(null);
        modal.onkeydown = event => {
            if (event.key === "Escape")
                finish(null);
            else if (event.key === "Enter")
                confirmButton.onclick();
        };
    });
}
