// SPDX-License-Identifier: ISC
/*
 * The "API tokens" page: the list of the user's tokens (every user's for
 * an administrator), the issue dialog that relays the host's PAM prompts
 * and shows the new token once, and the delete dialogs that want a typed
 * "yes".  Everything goes through tokenctl (tokenctl.js).
 */
import { E, TokenctlError, converse, retryAfterSeconds, run } from "./tokenctl.js";

const _ = cockpit.gettext;
const $ = id => document.getElementById(id);

const state = {
    view: "mine",           /* "mine" or "all" (administrators) */
    tokens: [],
    listExpired: true,      /* tokenctl knows list --expired (until it says otherwise) */
    loading: 0,
};

/* ------------------------------------------------------------ formatting */

function lang() {
    return cockpit.language || "en";
}

function formatDate(iso) {
    const d = new Date(iso);
    if (isNaN(d))
        return iso;
    return new Intl.DateTimeFormat(lang(), { dateStyle: "medium" }).format(d);
}

function formatDateTime(iso) {
    const d = new Date(iso);
    if (isNaN(d))
        return iso;
    return new Intl.DateTimeFormat(lang(), { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/*
 * "in 30 days", "3 hours ago": tokenctl's and pam_tokend's rule
 * (protocol/duration.c), days from 36 hours, hours from 90 minutes, each
 * rounded to the nearest; under 90 seconds, "in 1 minute".
 */
function formatRelative(iso, now = Date.now()) {
    const secs = (new Date(iso).getTime() - now) / 1000;
    const abs = Math.abs(secs);
    const rtf = new Intl.RelativeTimeFormat(lang(), { numeric: "auto" });
    if (abs < 90)
        return rtf.format(secs < 0 ? -1 : 1, "minute");
    if (abs < 90 * 60)
        return rtf.format(Math.round(secs / 60), "minute");
    if (abs < 36 * 3600)
        return rtf.format(Math.round(secs / 3600), "hour");
    return rtf.format(Math.round(secs / 86400), "day");
}

function isExpired(token, now = Date.now()) {
    return new Date(token.expires).getTime() <= now;
}

function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
        if (k === "class")
            node.className = v;
        else if (k === "text")
            node.textContent = v;
        else if (k.startsWith("aria-") || k === "title" || k === "datetime" || k === "role")
            node.setAttribute(k, v);
        else
            node[k] = v;
    }
    for (const c of children)
        if (c !== null && c !== undefined)
            node.append(c);
    return node;
}

/* ------------------------------------------------------------ errors */

/*
 * What a person can do about err, as {title, text}; "action" names what
 * failed ("list", "issue", "delete").  Never a bare exit status.
 */
function explain(err, action) {
    if (!(err instanceof TokenctlError))
        return { title: _("Something went wrong"), text: String(err && err.message ? err.message : err) };
    if (err.problem === "not-found")
        return {
            title: _("tokenctl is not installed"),
            text: _("This page needs the tokend package on the host. An administrator can install it with “apt install tokend cockpit-tokend”."),
        };
    if (err.problem === "access-denied")
        return { title: _("Not permitted"), text: _("Administrative access was refused.") };
    if (err.problem)
        return { title: _("The connection to the host was lost"), text: err.message };
    switch (err.code) {
    case E.CONNECT:
    case E.SHUTDOWN:
        return {
            title: _("The token service is not running"),
            text: _("tokend, which keeps the tokens of this host, does not answer. An administrator can start it with “systemctl start tokend.socket”. Then try again."),
        };
    case E.IO:
    case E.PROTOCOL:
        return { title: _("The token service stopped answering"), text: _("Try again in a moment. If it keeps happening, an administrator can look at tokend's log.") };
    case E.AUTH:
        return {
            title: _("Authentication failed"),
            text: _("The password or the one-time code was not accepted. Nothing was issued. Check them and try again."),
        };
    case E.DENIED:
        return { title: _("Not permitted"), text: _("Only administrators may see or delete other users' tokens.") };
    case E.NOT_FOUND:
        return { title: _("Token not found"), text: _("It may have been deleted already, here or with tokenctl.") };
    case E.EXISTS:
        return { title: _("Name already used"), text: _("You already have a token with this name. Choose another name.") };
    case E.LIMIT:
        return {
            title: _("Too many tokens"),
            text: _("You have as many tokens as this host allows. Delete one you no longer use, then issue a new one."),
        };
    case E.INVALID:
        return { title: _("The host does not accept these settings"), text: detail(err.message) };
    case E.BUSY:
        return { title: _("The token service is busy"), text: _("Try again in a moment.") };
    case E.TIMEOUT:
        return { title: _("The host stopped waiting"), text: _("The questions were not answered in time. Nothing was issued. Start again.") };
    case E.RATE_LIMITED:
        return { title: _("Too many failed attempts"), text: _("Too many attempts failed for this account. Wait a minute, then try again.") };
    case E.STORE:
        return { title: _("The token database could not be changed"), text: _("An administrator can look at tokend's log.") };
    case E.ABORTED:
        return { title: _("Nothing was changed"), text: detail(err.message) };
    default:
        return { title: action === "list" ? _("The tokens could not be listed") : _("The request failed"), text: detail(err.message) };
    }
}

/* The daemon's own explanation from "issue: invalid request: the expiry is...". */
function detail(message) {
    const parts = String(message || "").split(": ");
    return parts.length > 1 ? parts[parts.length - 1] : String(message || "");
}

function showAlert(box, { title, text }) {
    box.replaceChildren(el("p", { class: "alert-title", text: title }), text ? el("p", { text }) : "");
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
}

/* For a rate limit, say when to try again (as the daemon said, else from tokend.conf). */
async function showIssueError(err) {
    const box = $("issue-error");
    const what = explain(err, "issue");
    if (err instanceof TokenctlError && err.code === E.RATE_LIMITED) {
        const secs = await retryAfterSeconds(err.message);
        if (secs !== null) {
            const when = new Date(Date.now() + secs * 1000);
            const at = new Intl.DateTimeFormat(lang(), { timeStyle: "medium" }).format(when);
            what.text = cockpit.format(_("Too many attempts failed for this account. Try again in $0 seconds, after $1."), secs, at);
        }
    }
    showAlert(box, what);
}

function hideAlert(box) {
    box.hidden = true;
    box.replaceChildren();
}

/* ------------------------------------------------------------ the list */

function listArgs() {
    const args = ["list"];
    if (state.view === "all")
        args.push("--all");
    if (state.listExpired)
        args.push("--expired");
    return args;
}

/* list --expired arrived with token lifecycle; an older tokenctl calls it a usage error. */
async function listTokens() {
    try {
        return await run(listArgs(), { admin: state.view === "all" });
    } catch (err) {
        if (state.listExpired && err instanceof TokenctlError && err.code === E.ARG) {
            state.listExpired = false;
            return await run(listArgs(), { admin: state.view === "all" });
        }
        throw err;
    }
}

async function refresh() {
    const seq = ++state.loading;
    $("loading").hidden = false;
    try {
        const tokens = await listTokens();
        if (seq !== state.loading)
            return;
        state.tokens = Array.isArray(tokens) ? tokens : [];
        $("page-alert").hidden = true;
        render();
    } catch (err) {
        if (seq !== state.loading)
            return;
        state.tokens = [];
        const what = explain(err, "list");
        $("page-alert-title").textContent = what.title;
        $("page-alert-text").textContent = what.text;
        $("page-alert").hidden = false;
        render(true);
    } finally {
        if (seq === state.loading)
            $("loading").hidden = true;
    }
}

function render(failed = false) {
    const all = state.view === "all";
    const now = Date.now();
    const tokens = state.tokens.slice().sort((a, b) =>
        (all ? a.user.localeCompare(b.user) : 0) || b.created.localeCompare(a.created));
    const rows = tokens.map(t => renderRow(t, all, now));

    $("tokens-title").textContent = all ? _("All users' tokens") : _("Your tokens");
    $("token-caption").textContent = $("tokens-title").textContent;
    $("token-table").classList.toggle("show-user", all);
    $("token-rows").replaceChildren(...rows);
    $("token-table").hidden = rows.length === 0;
    $("empty").hidden = rows.length > 0 || failed;
    $("empty-text").textContent = all ? _("No user of this host has a token.")
        : _("Issue a token for each program or service that needs one, so that each can be deleted on its own.");
    $("delete-all-button").disabled = rows.length === 0 || all;
    $("delete-all-button").hidden = all;
}

function renderRow(t, all, now) {
    const expired = isExpired(t, now);
    const scopes = t.scopes && t.scopes.length > 0
        ? el("ul", { class: "scopes" }, ...t.scopes.map(s => el("li", { class: "scope", text: s })))
        : el("span", { class: "none", text: _("none") });
    const expires = el("td", { class: expired ? "expires expired" : "expires" },
                       el("time", { datetime: t.expires, title: formatDateTime(t.expires), text: formatDate(t.expires) }),
                       " ",
                       expired ? el("span", { class: "badge badge-expired", text: _("Expired") }) : null,
                       " ",
                       el("span", { class: "relative", text: "(" + formatRelative(t.expires, now) + ")" }));
    const lastUsed = t.last_used
        ? el("time", { datetime: t.last_used, title: formatDateTime(t.last_used), text: formatRelative(t.last_used, now) })
        : el("span", { class: "none", text: _("Never used") });
    const button = el("button", {
        type: "button",
        class: "btn btn-danger-secondary btn-small",
        text: _("Delete"),
        "aria-label": cockpit.format(_("Delete token $0"), t.name),
    });
    button.addEventListener("click", () => openDelete(t));
    const row = el("tr", { class: expired ? "is-expired" : "" },
                   el("td", { class: "col-user", text: t.user }),
                   el("td", { class: "name" }, el("span", { class: "token-name", text: t.name }),
                      t.rotated_to
                          ? el("span", { class: "badge badge-rotated", text: _("Rotated"),
                                         title: cockpit.format(_("Replaced by token $0; works until its overlap ends"), t.rotated_to) })
                          : null,
                      el("span", { class: "token-id", text: t.id, title: _("Token id, as tokenctl shows it") })),
                   el("td", {}, el("time", { datetime: t.created, title: formatDateTime(t.created), text: formatDate(t.created) })),
                   expires,
                   el("td", {}, lastUsed),
                   el("td", {}, scopes),
                   el("td", { class: "actions-cell" }, button));
    row.dataset.id = t.id;
    row.dataset.name = t.name;
    return row;
}

/* Administrators (root through administrative access, or tokend's admin group) may look at everybody's. */
async function probeAdmin() {
    try {
        await run(["list", "--all"], { admin: true });
        $("view-switch").hidden = false;
    } catch (err) {
        $("view-switch").hidden = true;
    }
}

/* ------------------------------------------------------------ issue */

const issue = {
    step: "details",        /* details, auth, done */
    conv: null,             /* the running tokenctl, while authenticating */
    field: null,            /* the input of the prompt waiting for an answer */
    name: "",
};

function setIssueStep(step) {
    issue.step = step;
    $("issue-step-details").hidden = step !== "details";
    $("issue-step-auth").hidden = step !== "auth";
    $("issue-step-done").hidden = step !== "done";
    $("issue-cancel").hidden = step === "done";
    const submit = $("issue-submit");
    submit.textContent = step === "done" ? _("Done") : _("Continue");
    submit.disabled = step === "auth" && issue.field === null;
    $("issue-title").textContent = step === "done" ? _("Token issued") : _("Issue a token");
}

function openIssue() {
    $("issue-form").reset();
    $("issue-date-field").hidden = true;
    hideAlert($("issue-error"));
    $("issue-conv").replaceChildren();
    $("issue-token").value = "";
    $("issue-copied").textContent = "";
    issue.field = null;
    setIssueStep("details");
    $("issue-date").min = tomorrow();
    $("issue-dialog").showModal();
    $("issue-name").focus();
}

function closeIssue() {
    if (issue.conv) {
        issue.conv.cancel();
        issue.conv = null;
    }
    issue.field = null;
    $("issue-token").value = "";          /* shown once: gone with the dialog */
    $("issue-conv").replaceChildren();
    if ($("issue-dialog").open)
        $("issue-dialog").close();
    $("issue-button").focus();
}

function tomorrow() {
    const d = new Date(Date.now() + 86400 * 1000);
    return d.toISOString().slice(0, 10);
}

function issueArgs() {
    const args = ["--name", issue.name];
    const lifetime = $("issue-lifetime").value;
    args.push("--expires", lifetime === "date" ? $("issue-date").value : lifetime);
    for (const s of $("issue-scopes").value.split(/[\s,]+/).filter(Boolean))
        args.push("--scope", s);
    return args;
}

function fieldError(input, message) {
    showAlert($("issue-error"), { title: message, text: "" });
    input.setAttribute("aria-invalid", "true");
    input.focus();
}

function validateDetails() {
    const name = $("issue-name");
    name.removeAttribute("aria-invalid");
    $("issue-date").removeAttribute("aria-invalid");
    $("issue-scopes").removeAttribute("aria-invalid");
    const value = name.value.trim();
    if (value === "" || value.length > 64 || /[\x00-\x1f\x7f]/.test(value)) {
        fieldError(name, _("Give the token a name of 1 to 64 characters."));
        return false;
    }
    if ($("issue-lifetime").value === "date" && !($("issue-date").value >= tomorrow())) {
        fieldError($("issue-date"), _("Choose an expiry date after today."));
        return false;
    }
    const scopes = $("issue-scopes").value.split(/[\s,]+/).filter(Boolean);
    if (scopes.length > 16 || scopes.some(s => s.length > 64)) {
        fieldError($("issue-scopes"), _("Give at most 16 scopes of at most 64 characters each."));
        return false;
    }
    issue.name = value;
    return true;
}

/* A PAM message from the host: text to show, or a prompt that gets a field. */
function onConvMessage(msg) {
    const box = $("issue-conv");
    if (msg.conv === "info" || msg.conv === "error") {
        box.append(el("p", { class: msg.conv === "error" ? "conv-error" : "conv-info", text: msg.text }));
        return;
    }
    const id = "issue-answer-" + box.querySelectorAll("input").length;
    const label = msg.text.replace(/[\s:：]+$/, "") || _("Answer");
    const input = el("input", {
        id,
        type: msg.conv === "echo_off" ? "password" : "text",
        autocomplete: "off",
        spellcheck: false,
    });
    input.setAttribute("autocapitalize", "off");
    if (/one-time|otp|code|token|verification/i.test(msg.text))
        input.setAttribute("inputmode", "numeric");
    box.append(el("div", { class: "field conv-prompt" }, el("label", { htmlFor: id, text: label }), input));
    issue.field = input;
    $("issue-waiting").hidden = true;
    $("issue-submit").disabled = false;
    input.focus();
}

/* Send the answer; the field empties at once, nothing keeps it. */
function answerPrompt() {
    const input = issue.field;
    if (!input || !issue.conv)
        return;
    const value = input.value;
    input.value = "";
    input.disabled = true;
    input.closest(".field").classList.add("answered");
    issue.field = null;
    $("issue-submit").disabled = true;
    $("issue-waiting").hidden = false;
    issue.conv.answer(value);
}

function startIssue() {
    hideAlert($("issue-error"));
    $("issue-conv").replaceChildren();
    issue.field = null;
    setIssueStep("auth");
    $("issue-waiting").hidden = false;
    const conv = converse(issueArgs(), msg => {
        if (issue.conv === conv)        /* not after Cancel */
            onConvMessage(msg);
    });
    issue.conv = conv;
    conv.done.then(result => {
        if (issue.conv !== conv)
            return;
        issue.conv = null;
        showIssued(result);
        refresh();
    }).catch(err => {
        if (issue.conv !== conv)
            return;            /* cancelled */
        issue.conv = null;
        issue.field = null;
        $("issue-waiting").hidden = true;
        /* A refusal about the details sends the person back to them. */
        if (err instanceof TokenctlError && [E.EXISTS, E.INVALID, E.LIMIT, E.ARG].includes(err.code)) {
            setIssueStep("details");
            showIssueError(err);
            if (err.code === E.EXISTS) {
                $("issue-name").setAttribute("aria-invalid", "true");
                $("issue-name").focus();
            }
            return;
        }
        setIssueStep("auth");
        $("issue-submit").disabled = false;
        $("issue-submit").textContent = _("Try again");
        issue.step = "retry";
        showIssueError(err);
        $("issue-submit").focus();
    });
}

function showIssued(result) {
    $("issue-conv").replaceChildren();
    $("issue-token-label").textContent = cockpit.format(_("Token “$0”"), result.name);
    $("issue-token").value = result.token;
    const facts = $("issue-facts");
    facts.replaceChildren(
        el("dt", { text: _("Expires") }),
        el("dd", { text: formatDateTime(result.expires) + " (" + formatRelative(result.expires) + ")" }),
        el("dt", { text: _("Scopes") }),
        el("dd", { text: result.scopes && result.scopes.length ? result.scopes.join(" ") : _("none") }),
        el("dt", { text: _("Id") }),
        el("dd", { class: "token-id", text: result.id }));
    setIssueStep("done");
    $("issue-token").focus();
    $("issue-token").select();
}

async function copyToken() {
    const field = $("issue-token");
    let copied = false;
    try {
        await navigator.clipboard.writeText(field.value);
        copied = true;
    } catch (e) {
        field.focus();
        field.select();
        try {
            copied = document.execCommand("copy");
        } catch (e2) {
            copied = false;
        }
    }
    $("issue-copied").textContent = copied ? _("Copied to the clipboard.")
        : _("Could not copy: select the token and copy it with Ctrl+C.");
}

function onIssueSubmit(event) {
    event.preventDefault();
    switch (issue.step) {
    case "details":
        hideAlert($("issue-error"));
        if (validateDetails())
            startIssue();
        break;
    case "auth":
        answerPrompt();
        break;
    case "retry":
        startIssue();
        break;
    case "done":
        closeIssue();
        break;
    }
}

/* ------------------------------------------------------------ delete */

const del = {
    token: null,            /* one token, or null for all */
    user: null,             /* whose tokens (administrators) */
    busy: false,
};

function openDelete(token) {
    del.token = token;
    del.user = token ? token.user : null;
    const all = token === null;
    const count = state.tokens.length;
    if (all) {
        $("delete-title").textContent = _("Delete all your tokens?");
        $("delete-warning-title").textContent = _("This cannot be undone.");
        $("delete-warning-title").hidden = false;
        $("delete-text").textContent = cockpit.format(cockpit.ngettext(
            "Your only token stops working at once, and so does every access token made from it. Every program and service that uses it will be refused until you give it a new token.",
            "All $0 of your tokens stop working at once, and so does every access token made from them. Every program and service that uses any of them will be refused until you give it a new token.",
            count), count);
        $("delete-submit").textContent = _("Yes, delete all");
    } else {
        $("delete-title").textContent = cockpit.format(_("Delete token “$0”?"), token.name);
        $("delete-warning-title").hidden = true;
        if (state.view === "all")
            $("delete-text").textContent = cockpit.format(
                _("The token “$0” of $1 (expires $2) stops working at once, and so does every access token made from it. Programs and services that use it will be refused."),
                token.name, token.user, formatDate(token.expires));
        else
            $("delete-text").textContent = cockpit.format(
                _("The token “$0” (expires $1) stops working at once, and so does every access token made from it. Programs and services that use it will be refused."),
                token.name, formatDate(token.expires));
        $("delete-submit").textContent = _("Yes, delete");
    }
    $("delete-form").reset();
    $("delete-submit").disabled = true;
    hideAlert($("delete-error"));
    $("delete-dialog").showModal();
    $("delete-confirm").focus();
}

function closeDelete() {
    if ($("delete-dialog").open)
        $("delete-dialog").close();
    $("delete-confirm").value = "";
}

async function onDeleteSubmit(event) {
    event.preventDefault();
    const typed = $("delete-confirm").value;
    if (typed !== "yes" || del.busy)
        return;
    del.busy = true;
    $("delete-submit").disabled = true;
    const admin = state.view === "all";
    const args = del.token ? ["delete", del.token.id] : ["delete", "--all"];
    try {
        /* tokenctl asks for the "yes" itself: it gets what was typed. */
        await run(args, { input: typed, admin });
        closeDelete();
        await refresh();
        $("issue-button").focus();
    } catch (err) {
        showAlert($("delete-error"), explain(err, "delete"));
        $("delete-submit").disabled = false;
        if (err instanceof TokenctlError && err.code === E.NOT_FOUND)
            refresh();
    } finally {
        del.busy = false;
    }
}

/* ------------------------------------------------------------ start */

function init() {
    document.documentElement.lang = lang();
    document.documentElement.dir = cockpit.language_direction || "ltr";
    cockpit.translate();
    document.title = _("API tokens");

    $("issue-button").addEventListener("click", openIssue);
    $("delete-all-button").addEventListener("click", () => openDelete(null));
    $("page-retry").addEventListener("click", () => { refresh(); probeAdmin() });
    $("view-select").addEventListener("change", () => {
        state.view = $("view-select").value;
        refresh();
    });

    $("issue-form").addEventListener("submit", onIssueSubmit);
    $("issue-cancel").addEventListener("click", closeIssue);
    $("issue-dialog").addEventListener("cancel", event => {
        event.preventDefault();
        closeIssue();
    });
    $("issue-lifetime").addEventListener("change", () => {
        const date = $("issue-lifetime").value === "date";
        $("issue-date-field").hidden = !date;
        $("issue-date").min = tomorrow();
        if (date)
            $("issue-date").focus();
    });
    $("issue-copy").addEventListener("click", copyToken);

    $("delete-form").addEventListener("submit", onDeleteSubmit);
    $("delete-cancel").addEventListener("click", closeDelete);
    $("delete-confirm").addEventListener("input", () => {
        $("delete-submit").disabled = $("delete-confirm").value !== "yes" || del.busy;
    });
    $("delete-dialog").addEventListener("close", () => { $("delete-confirm").value = "" });

    cockpit.addEventListener("visibilitychange", () => {
        if (!cockpit.hidden)
            refresh();
    });

    refresh();
    probeAdmin();
}

init();
