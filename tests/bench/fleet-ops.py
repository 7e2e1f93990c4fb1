#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Latencies of the writes and of revocation across hosts, for bench-fleet.

  fleet-ops.py --socket A [--other B] --password PW --count N --prefix NAME

For each of N rounds on host A (password-only PAM stack): ISSUE a token and
time it; when --other names a second host, VERIFY it there until it is active
(first sight: the host learns of it from the database) and time that; then
REVOKE it on A and time the acknowledgement, and poll VERIFY on B until it
is refused, timed from the acknowledgement (propagation).  Prints one JSON
object of p50/p99/max per measurement, in milliseconds.
"""
import argparse
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokproto import (ECHO_OFF, ECHO_ON, MSG_CONV, MSG_CONV_REPLY,  # noqa: E402
                      MSG_ERROR, MSG_ISSUE, MSG_ISSUED, MSG_REVOKE, MSG_REVOKED,
                      Conn, error_text, frame, getstr, pstr)

MSG_VERIFY, MSG_VERIFY_RESULT = 0x07, 0x86


def issue(conn, password, name):
    conn.send(frame(MSG_ISSUE, pstr("") + pstr(name) + struct.pack(">Q", 0) + b"\x00"))
    while True:
        mtype, body = conn.frame()
        if mtype == MSG_ISSUED:
            token, off = getstr(body, 0)
            rid, _ = getstr(body, off)
            return token, rid
        if mtype == MSG_ERROR:
            sys.exit("fleet-ops: ISSUE: " + error_text(body))
        n, off, answers = body[0], 1, []
        for _ in range(n):
            style = body[off]
            _, off = getstr(body, off + 1)
            answers.append(password if style in (ECHO_OFF, ECHO_ON) else "")
        conn.send(frame(MSG_CONV_REPLY, bytes([n]) + b"".join(pstr(a) for a in answers)))


def verify(conn, token):
    conn.send(frame(MSG_VERIFY, pstr(token)))
    mtype, body = conn.frame()
    if mtype == MSG_ERROR:
        return None
    return mtype == MSG_VERIFY_RESULT and body[0] == 1


def revoke(conn, rid):
    conn.send(frame(MSG_REVOKE, pstr(rid)))
    mtype, body = conn.frame()
    if mtype != MSG_REVOKED:
        sys.exit("fleet-ops: REVOKE: " + (error_text(body) if mtype == MSG_ERROR else "?"))


def until(cond, limit=10.0):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            sys.exit("fleet-ops: no change within %g s" % limit)


def summary(v):
    if not v:
        return None
    v = sorted(v)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return {"n": len(v), "p50_ms": round(pick(0.5), 2), "p99_ms": round(pick(0.99), 2),
            "max_ms": round(v[-1], 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--other")
    ap.add_argument("--password", required=True)
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--prefix", default="ops")
    args = ap.parse_args()
    a = Conn(args.socket)
    b = Conn(args.other) if args.other else None
    res = {"issue": [], "revoke": [], "first_sight": [], "propagation": []}
    for i in range(args.count):
        t0 = time.monotonic()
        token, rid = issue(a, args.password, "%s-%d-%d" % (args.prefix, os.getpid(), i))
        t1 = time.monotonic()
        res["issue"].append((t1 - t0) * 1000)
        if b:
            until(lambda: verify(b, token))
            res["first_sight"].append((time.monotonic() - t1) * 1000)
        t2 = time.monotonic()
        revoke(a, rid)
        t3 = time.monotonic()
        res["revoke"].append((t3 - t2) * 1000)
        if b:
            until(lambda: not verify(b, token))
            res["propagation"].append((time.monotonic() - t3) * 1000)
    print(json.dumps({k: summary(v) for k, v in res.items()}))


if __name__ == "__main__":
    main()
