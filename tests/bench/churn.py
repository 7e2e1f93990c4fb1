#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The load of `make bench-load`: PAM conversations left waiting, and an
ISSUE/REVOKE loop; also the daemon's STATUS counters.

  churn.py --socket S --status
  churn.py --socket S --password PW [--hold N] [--churn] [--prefix NAME]

--status sends one STATUS and prints one JSON object: version, healthy and
the counters (the daemon sends counters to admins only).

Otherwise it opens N connections that each send an ISSUE, read the PAM
password prompt (a CONV frame) and never answer it, so that N PAM helpers
sit waiting for input; then prints "ready held=N" on stdout.  With --churn
it then loops on one more connection, as fast as the daemon answers:
ISSUE (answering the password prompt) -> ISSUED -> REVOKE of that token's
id -> REVOKED.  Both go on until SIGTERM or SIGINT, which ends the loop
after the cycle in progress.  Then it checks that every held conversation
is still waiting (the daemon sent nothing on it and did not close it) and
prints one JSON object: cycles, errors, seconds, cycles_per_sec, held,
held_alive.  Exit status: 0, or 1 when the set-up failed, a cycle failed,
or a held conversation ended.

Speaks the wire protocol directly (protocol/PROTOCOL.md), with the framing
of issue-tokens.py.  Only the right password is ever sent: failures would
soon be rate-limited (ERROR 13) and each one costs fail_delay_ms.
"""
import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokproto import (ECHO_OFF, ECHO_ON, MSG_CONV, MSG_CONV_REPLY,  # noqa: E402
                      MSG_ERROR, MSG_ISSUE, MSG_ISSUED, MSG_REVOKE, MSG_REVOKED,
                      MSG_STATUS, MSG_STATUS_RESULT, Conn, ProtocolError,
                      error_text, frame, getstr, pstr)


def issue_request(name):
    # ISSUE (PROTOCOL.md 5.1): user "" (the caller), name, expires 0 (the
    # default), no scopes.
    return frame(MSG_ISSUE, pstr("") + pstr(name) + struct.pack(">Q", 0) + b"\x00")


def parse_conv(body):
    """CONV (6): n, then n x (style u8, text string).  Returns [(style, text)]."""
    n, off, msgs = body[0], 1, []
    for _ in range(n):
        style = body[off]
        text, off = getstr(body, off + 1)
        msgs.append((style, text))
    return msgs


def status(path):
    conn = Conn(path, timeout=10)
    conn.send(frame(MSG_STATUS, b""))
    mtype, body = conn.frame()
    if mtype != MSG_STATUS_RESULT:
        raise ProtocolError("STATUS: " + (error_text(body) if mtype == MSG_ERROR
                                          else "frame 0x%02x" % mtype))
    # STATUS_RESULT (5.7): version, healthy u8, n u8, n x (key, u64).
    version, off = getstr(body, 0)
    healthy, n = body[off], body[off + 1]
    off += 2
    out = {"version": version, "healthy": healthy}
    for _ in range(n):
        key, off = getstr(body, off)
        (out[key],) = struct.unpack(">Q", body[off:off + 8])
        off += 8
    return out


def hold(path, name):
    """Start an ISSUE and stop at its first prompt: a PAM helper left waiting."""
    conn = Conn(path)
    conn.send(issue_request(name))
    mtype, body = conn.frame()
    if mtype != MSG_CONV:
        raise ProtocolError("held ISSUE %s: %s" % (name, error_text(body) if mtype == MSG_ERROR
                                                   else "frame 0x%02x" % mtype))
    if not any(style in (ECHO_OFF, ECHO_ON) for style, _ in parse_conv(body)):
        raise ProtocolError("held ISSUE %s: the first CONV asks nothing" % name)
    return conn


def cycle(conn, password, name):
    """One ISSUE -> ISSUED -> REVOKE -> REVOKED.  Returns None, or the text
    of an ERROR answer (the connection stays usable after one)."""
    conn.send(issue_request(name))
    while True:
        mtype, body = conn.frame()
        if mtype == MSG_ISSUED:
            break
        if mtype == MSG_ERROR:
            return "ISSUE: " + error_text(body)
        if mtype != MSG_CONV:
            raise ProtocolError("ISSUE: unexpected frame 0x%02x" % mtype)
        msgs = parse_conv(body)
        # The password for every prompt; "" for error and info messages.
        answers = [password if style in (ECHO_OFF, ECHO_ON) else "" for style, _ in msgs]
        conn.send(frame(MSG_CONV_REPLY, bytes([len(msgs)]) + b"".join(pstr(a) for a in answers)))
    # ISSUED (5.1): token string, then the record, whose first field is the id.
    _, off = getstr(body, 0)
    token_id, _ = getstr(body, off)
    conn.send(frame(MSG_REVOKE, pstr(token_id)))
    mtype, body = conn.frame()
    if mtype == MSG_ERROR:
        return "REVOKE %s: %s" % (token_id, error_text(body))
    if mtype != MSG_REVOKED or struct.unpack(">I", body[:4])[0] != 1:
        raise ProtocolError("REVOKE: unexpected frame 0x%02x" % mtype)
    return None


def still_waiting(conn):
    """A held conversation is still waiting when the daemon has sent nothing
    on it: no ERROR (10 TIMEOUT, 14 SHUTDOWN) and no end-of-file."""
    readable, _, _ = select.select([conn.s], [], [], 0)
    return not readable and not conn.buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--status", action="store_true")
    ap.add_argument("--password")
    ap.add_argument("--hold", type=int, default=0)
    ap.add_argument("--churn", action="store_true")
    ap.add_argument("--prefix", default="load")
    args = ap.parse_args()

    if args.status:
        try:
            print(json.dumps(status(args.socket)))
        except (OSError, ProtocolError) as e:
            sys.exit("churn: STATUS: %s" % e)
        return
    if args.churn and args.password is None:
        ap.error("--churn needs --password")

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    try:
        held = [hold(args.socket, "%s-held-%d" % (args.prefix, i)) for i in range(args.hold)]
        conn = Conn(args.socket) if args.churn else None
    except (OSError, ProtocolError) as e:
        sys.exit("churn: set-up: %s" % e)
    print("ready held=%d" % len(held), flush=True)

    cycles = errors = 0
    failure = None
    start = time.monotonic()
    while not stop:
        if conn is None:
            time.sleep(0.2)  # not signal.pause(): a signal before it would be lost
            continue
        try:
            err = cycle(conn, args.password, "%s-%d" % (args.prefix, cycles + errors))
        except (OSError, ProtocolError) as e:
            failure = str(e)
            break
        if err is None:
            cycles += 1
            continue
        errors += 1
        print("churn: %s" % err, file=sys.stderr, flush=True)
        if errors >= 10:
            # Something is steadily wrong (a limit, a rate limit): stop
            # rather than hammer the daemon with failures.
            failure = "10 errors, giving up"
            break
    seconds = time.monotonic() - start
    alive = sum(1 for c in held if still_waiting(c))
    print(json.dumps({"cycles": cycles, "errors": errors, "seconds": round(seconds, 3),
                      "cycles_per_sec": round(cycles / seconds, 1) if seconds > 0 else 0,
                      "held": len(held), "held_alive": alive, "failure": failure}), flush=True)
    if failure:
        print("churn: %s" % failure, file=sys.stderr)
    if failure or errors or alive != len(held):
        sys.exit(1)


if __name__ == "__main__":
    main()
