// SPDX-License-Identifier: ISC
/*
 * The page's only way to tokend: tokenctl --json, run with cockpit.spawn
 * as the logged-in user, or through Cockpit's administrative access
 * (superuser "try") for what an administrator does to other users'
 * tokens.  Failures come back as TokenctlError with libtokend's error
 * number (tokenctl(1), EXIT STATUS), never as a bare exit status.
 */

/* libtokend's error numbers that the page tells apart. */
export const E = Object.freeze({
    AUTH: 2,
    DENIED: 3,
    NOT_FOUND: 4,
    EXISTS: 6,
    LIMIT: 7,
    INVALID: 8,
    BUSY: 9,
    TIMEOUT: 10,
    STORE: 11,
    INTERNAL: 12,
    RATE_LIMITED: 13,
    SHUTDOWN: 14,
    CONNECT: 100,
    IO: 101,
    PROTOCOL: 102,
    ARG: 104,
    ABORTED: 106,
});

export class TokenctlError extends Error {
    /*
     * code: libtokend's error number, or null; problem: Cockpit's reason
     * when tokenctl did not run to its end ("not-found": not installed,
     * "access-denied", "terminated"...); message: tokenctl's own line.
     */
    constructor(message, code, problem) {
        super(message);
        this.name = "TokenctlError";
        this.code = code;
        this.problem = problem;
    }
}

/* The package's settings: manifest "config", overridden by tokend.override.json. */
export function config() {
    const manifest = (cockpit.manifests && cockpit.manifests.tokend) || {};
    return Object.assign({ tokenctl: "tokenctl", socket: "", conf: "/etc/tokend/tokend.conf" },
                         manifest.config || {});
}

function argv(args) {
    const c = config();
    const v = [c.tokenctl || "tokenctl"];
    if (c.socket)
        v.push("--socket", c.socket);
    return v.concat(["--json"], args);
}

function spawnOptions(admin) {
    const options = { err: "message" };
    if (admin)
        options.superuser = "try";
    return options;
}

/* The JSON object on the last line of out (tokenctl prints one per line). */
function lastObject(out) {
    const lines = String(out || "").split("\n").filter(l => l.trim() !== "");
    for (let i = lines.length - 1; i >= 0; i--) {
        try {
            return JSON.parse(lines[i]);
        } catch (e) {
            /* not JSON: look further up */
        }
    }
    return null;
}

function toError(ex, last) {
    if (ex && ex.problem)
        return new TokenctlError(cockpit.message(ex), null, ex.problem);
    if (last && typeof last.error === "string")
        return new TokenctlError(last.error, typeof last.code === "number" ? last.code : null, null);
    /* Only an old tokenctl without JSON errors gets here. */
    return new TokenctlError((ex && ex.message) || String(ex), null, null);
}

/*
 * Run tokenctl --json ARGS; resolves with the object or array it printed.
 * input: a line for its stdin (the typed "yes" of delete); admin: act
 * with administrative access when the session has it.
 */
export function run(args, { input = null, admin = false } = {}) {
    return new Promise((resolve, reject) => {
        const proc = cockpit.spawn(argv(args), spawnOptions(admin));
        proc.then(out => resolve(lastObject(out)))
                .catch((ex, out) => reject(toError(ex, lastObject(out))));
        proc.input(input === null ? null : input + "\n");
    });
}

/*
 * tokenctl issue --json-prompts ARGS: onMessage({conv, text}) is called for
 * each PAM message; answer(text) sends the answer to the prompt just shown.
 * done resolves with {token, id, name, expires, scopes} or rejects with a
 * TokenctlError; cancel() ends tokenctl, and with it the PAM conversation.
 */
export function converse(args, onMessage) {
    const proc = cockpit.spawn(argv(["issue", "--json-prompts"].concat(args)), spawnOptions(false));
    let pending = "";
    let last = null;

    proc.stream(data => {
        pending += data;
        let nl;
        while ((nl = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            let obj;
            try {
                obj = JSON.parse(line);
            } catch (e) {
                continue;
            }
            if (obj && typeof obj.conv === "string")
                onMessage(obj);
            else
                last = obj;
        }
    });

    const done = new Promise((resolve, reject) => {
        proc.then(() => {
            if (last && typeof last.token === "string")
                resolve(last);
            else
                reject(new TokenctlError("tokenctl printed no token", E.PROTOCOL, null));
        }).catch(ex => reject(toError(ex, last)));
    });

    return {
        done,
        answer(text) {
            proc.input(text.replace(/[\r\n]/g, "") + "\n", true);
        },
        cancel() {
            proc.close("terminated");
        },
    };
}

/*
 * How long a user waits after being rate-limited: one more attempt comes
 * back every 60 / auth_fail_per_minute seconds (tokend.conf(5)).
 * Resolves with seconds, or null when the configuration cannot be read.
 */
export function retryAfterSeconds(message) {
    /* The daemon says when: "...; try again in 42s" (tokend 0.1 and later). */
    const said = /try again in (\d+)([smhd])\b/.exec(message || "");
    if (said)
        return Promise.resolve(Number(said[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[said[2]]);
    const file = cockpit.file(config().conf);
    return file.read()
            .then(text => {
                let perMinute = 1;
                const m = /^\s*auth_fail_per_minute\s*=\s*(\d+)\s*$/m.exec(text || "");
                if (m && Number(m[1]) > 0)
                    perMinute = Number(m[1]);
                return Math.ceil(60 / perMinute);
            })
            .catch(() => null)
            .finally(() => file.close());
}
