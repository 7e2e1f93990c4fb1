#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Issue refresh tokens through a test PAM stack and exchange them, for the benchmark.

  issue-tokens.py --socket S --pamdir DIR --user U --password PW --key HEX
                  --count N --refresh-out FILE [--access-out FILE] [--prefix NAME]

Speaks the wire protocol directly (protocol/PROTOCOL.md), so the benchmark
does not depend on tokenctl.  Each ISSUE answers the PAM prompts: the
password for the first echo-off prompt, a TOTP code (RFC 6238, SHA-1, 30 s,
6 digits) for the one-time-password prompt.  DIR/users.oath is rewritten
before each ISSUE so that the code is never a replay.  Then every refresh
token is exchanged once (pipelined) for an access token.  Writes one token
per line; exits non-zero with a message on the first failure.
"""
import argparse
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokproto import (ECHO_OFF, ECHO_ON, MSG_CONV, MSG_CONV_REPLY,  # noqa: E402
                      MSG_ERROR, MSG_EXCHANGE, MSG_EXCHANGED, MSG_ISSUE,
                      MSG_ISSUED, Conn, ProtocolError, error_text, frame,
                      getstr, pstr)


def totp(key_hex, t=None):
    counter = int((time.time() if t is None else t) // 30)
    mac = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return "%06d" % code


def fresh_oath(pamdir, user, key):
    for suffix in (".lock", ".new"):
        try:
            os.unlink(os.path.join(pamdir, "users.oath" + suffix))
        except FileNotFoundError:
            pass
    path = os.path.join(pamdir, "users.oath")
    with open(path, "w") as f:
        f.write("HOTP/T30/6 %s - %s\n" % (user, key))
    os.chmod(path, 0o600)


def issue(conn, args, name):
    fresh_oath(args.pamdir, args.user, args.key)
    conn.send(frame(MSG_ISSUE, pstr("") + pstr(name) + struct.pack(">Q", 0) + b"\x00"))
    while True:
        mtype, body = conn.frame()
        if mtype == MSG_ISSUED:
            token, _ = getstr(body, 0)
            return token
        if mtype == MSG_ERROR:
            sys.exit("issue-tokens: ISSUE %s: %s" % (name, error_text(body)))
        if mtype != MSG_CONV:
            sys.exit("issue-tokens: unexpected frame 0x%02x" % mtype)
        n, off, answers = body[0], 1, []
        for _ in range(n):
            style = body[off]
            text, off = getstr(body, off + 1)
            if style in (ECHO_OFF, ECHO_ON):
                lower = text.lower()
                if "one-time" in lower or "otp" in lower or "code" in lower:
                    answers.append(totp(args.key))
                else:
                    answers.append(args.password)
            else:
                answers.append("")
        conn.send(frame(MSG_CONV_REPLY, bytes([n]) + b"".join(pstr(a) for a in answers)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pamdir", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--prefix", default="bench")
    ap.add_argument("--refresh-out", required=True)
    ap.add_argument("--access-out")
    args = ap.parse_args()

    conn = Conn(args.socket)
    refresh = [issue(conn, args, "%s-%d" % (args.prefix, i)) for i in range(args.count)]
    with open(args.refresh_out, "w") as f:
        f.write("".join(t + "\n" for t in refresh))
    if args.access_out:
        conn.send(b"".join(frame(MSG_EXCHANGE, pstr(t) + struct.pack(">I", 0) + b"\x00")
                           for t in refresh))
        access = []
        for _ in refresh:
            mtype, body = conn.frame()
            if mtype != MSG_EXCHANGED:
                sys.exit("issue-tokens: EXCHANGE: " +
                         (error_text(body) if mtype == MSG_ERROR else "frame 0x%02x" % mtype))
            access.append(getstr(body, 0)[0])
        with open(args.access_out, "w") as f:
            f.write("".join(t + "\n" for t in access))


if __name__ == "__main__":
    try:
        main()
    except ProtocolError as e:
        sys.exit("issue-tokens: %s" % e)
