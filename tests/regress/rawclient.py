#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Raw protocol client for the regression tests: sends hand-made frames.

  rawclient.py SOCKET send HEX WAIT     send bytes, then read for up to WAIT s
  rawclient.py SOCKET close HEX         send bytes, close at once (truncated frame)
  rawclient.py SOCKET idle WAIT         connect, send nothing, read for up to WAIT s
  rawclient.py SOCKET issue-hang WAIT [READY]  send ISSUE, read the CONV (then
                                        create READY), never answer; reads until
                                        an ERROR or WAIT s
  rawclient.py SOCKET hold N WAIT [READY]  open N connections, report how many
                                        the daemon accepted (they answer STATUS)
                                        and refused, create READY, hold WAIT s
  rawclient.py SOCKET verify-flood N    N VERIFYs of well-formed tokens that do
                                        not exist, then one of the token on stdin;
                                        reports the answers
  rawclient.py SOCKET verify-same N     N VERIFYs of the token on stdin written at
                                        once, then one more; reports the answers
  rawclient.py - forge                  print a well-formed refresh token that
                                        does not exist (valid checksum)

Prints one JSON object: closed (the daemon closed the connection), elapsed
(seconds until it did, or until WAIT ran out), frames (response types in
order), errors (codes of ERROR frames), error_at (seconds until the first
ERROR frame), conv (prompt texts).
"""
import json
import os
import socket
import struct
import sys
import time
import zlib

MSG_ISSUE, MSG_VERIFY, MSG_STATUS = 0x01, 0x07, 0x08
MSG_ERROR, MSG_CONV, MSG_VERIFY_RESULT = 0x80, 0x81, 0x86
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b62(v, width):
    out = ""
    for _ in range(width):
        v, d = divmod(v, 62)
        out = B62[d] + out
    return out


def forge(prefix="tkr_", blocks=4):
    """A token of the right form and checksum whose secret nobody issued."""
    body = "".join(b62(int.from_bytes(os.urandom(8), "big"), 11) for _ in range(blocks))
    text = prefix + body
    return text + b62(zlib.crc32(text.encode()), 6)


def frame(mtype, body=b"", version=1, magic=b"TK", length=None):
    if length is None:
        length = len(body)
    return magic + bytes([version, mtype]) + struct.pack(">I", length) + body


def pstr(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_frames(s, wait, stop_on=()):
    """Read frames until EOF, WAIT seconds, or a frame type in stop_on."""
    res = {"closed": False, "elapsed": None, "frames": [], "errors": [], "conv": [],
           "error_at": None}
    start = time.monotonic()
    buf = b""
    while True:
        left = wait - (time.monotonic() - start)
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            res["closed"] = True
            break
        buf += data
        stop = False
        while len(buf) >= 8:
            ver, mtype = buf[2], buf[3]
            (length,) = struct.unpack(">I", buf[4:8])
            if buf[:2] != b"TK" or ver != 1:
                res["frames"].append("bad-header")
                buf = b""
                break
            if len(buf) < 8 + length:
                break
            body, buf = buf[8:8 + length], buf[8 + length:]
            res["frames"].append(mtype)
            if res.get("error_at") is None and mtype == MSG_ERROR:
                res["error_at"] = round(time.monotonic() - start, 2)
            if mtype == MSG_ERROR and len(body) >= 2:
                res["errors"].append(struct.unpack(">H", body[:2])[0])
            if mtype == MSG_CONV and body:
                n, off = body[0], 1
                for _ in range(n):
                    if off + 3 > len(body):
                        break
                    (ln,) = struct.unpack(">H", body[off + 1:off + 3])
                    res["conv"].append(body[off + 3:off + 3 + ln].decode(errors="replace"))
                    off += 3 + ln
            if mtype in stop_on:
                stop = True
        if stop:
            break
    res["elapsed"] = round(time.monotonic() - start, 2)
    return res


def read_answers(s, n):
    """Read n whole frames; returns their (type, body) list."""
    out, buf = [], b""
    s.settimeout(20)
    while len(out) < n:
        data = s.recv(65536)
        if not data:
            break
        buf += data
        while len(buf) >= 8:
            (length,) = struct.unpack(">I", buf[4:8])
            if len(buf) < 8 + length:
                break
            out.append((buf[3], buf[8:8 + length]))
            buf = buf[8 + length:]
    return out


def verify_flood(path, n, token, same=False):
    """N VERIFYs (forged tokens, or token itself when same), then token."""
    s = connect(path)
    res = {"inactive": 0, "active": 0, "errors": [], "last": None}
    left = n
    if same:
        # All at once: the daemon must take them however long the first waits.
        s.sendall(frame(MSG_VERIFY, pstr(token)) * n)
        for mtype, body in read_answers(s, n):
            if mtype == MSG_VERIFY_RESULT:
                res["active" if body[:1] == b"\x01" else "inactive"] += 1
            elif mtype == MSG_ERROR:
                res["errors"].append(struct.unpack(">H", body[:2])[0])
        left = 0
    while left > 0:
        k = min(left, 200)
        s.sendall(b"".join(frame(MSG_VERIFY, pstr(forge())) for _ in range(k)))
        for mtype, body in read_answers(s, k):
            if mtype == MSG_VERIFY_RESULT:
                res["active" if body[:1] == b"\x01" else "inactive"] += 1
            elif mtype == MSG_ERROR:
                res["errors"].append(struct.unpack(">H", body[:2])[0])
        left -= k
    s.sendall(frame(MSG_VERIFY, pstr(token)))
    ans = read_answers(s, 1)
    if ans:
        mtype, body = ans[0]
        res["last"] = ("active" if body[:1] == b"\x01" else "inactive") \
            if mtype == MSG_VERIFY_RESULT else "error %d" % struct.unpack(">H", body[:2])[0]
    return res


def main():
    path, mode = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if mode == "forge":
        print(forge())
        return
    if mode in ("verify-flood", "verify-same"):
        print(json.dumps(verify_flood(path, int(args[0]), sys.stdin.readline().strip(),
                                      mode == "verify-same")))
        return
    if mode == "send":
        # Read until the daemon closes, or until a little after its first
        # answer (it may keep the connection: a body that does not decode).
        s = connect(path)
        try:
            s.sendall(bytes.fromhex(args[0]))
        except (BrokenPipeError, ConnectionResetError):
            pass
        res = read_frames(s, float(args[1]), stop_on=tuple(range(0x80, 0x100)))
        if not res["closed"] and res["frames"]:
            more = read_frames(s, 0.3)
            res["closed"] = more["closed"]
            res["frames"] += more["frames"]
            res["errors"] += more["errors"]
    elif mode == "close":
        s = connect(path)
        s.sendall(bytes.fromhex(args[0]))
        s.close()
        res = {"closed": True, "elapsed": 0, "frames": [], "errors": [], "conv": []}
    elif mode == "idle":
        s = connect(path)
        res = read_frames(s, float(args[0]))
    elif mode == "issue-hang":
        s = connect(path)
        body = pstr("") + pstr("hang") + struct.pack(">Q", 0) + b"\x00"
        s.sendall(frame(MSG_ISSUE, body))
        first = read_frames(s, 10, stop_on=(MSG_CONV, MSG_ERROR))
        if len(args) > 1:
            open(args[1], "w").close()	# the prompt is there: tell the test
        res = read_frames(s, float(args[0]), stop_on=(MSG_ERROR,))
        res["first"] = first
    elif mode == "hold":
        # Each connection asks for STATUS: an answer means it was accepted,
        # an ERROR or end-of-file that it was refused.  No guessing by time.
        n, wait = int(args[0]), float(args[1])
        ready = args[2] if len(args) > 2 else None
        socks, refused, closed = [], 0, 0
        for _ in range(n):
            try:
                s = connect(path)
                s.sendall(frame(MSG_STATUS))
                socks.append(s)
            except OSError:
                refused += 1
        held = []
        for s in socks:
            r = read_frames(s, 20, stop_on=(0x87, MSG_ERROR))
            if 0x87 in r["frames"]:
                held.append(s)
            else:
                closed += 1
        res = {"closed": closed, "refused": refused, "open": len(held)}
        print(json.dumps(res))
        sys.stdout.flush()
        if ready:
            open(ready, "w").close()
        time.sleep(wait)
        for s in socks:
            s.close()
        return
    elif mode == "frame":
        # frame TYPE BODYHEX: print the hex of a well-formed frame
        print(frame(int(args[0], 0), bytes.fromhex(args[1] if len(args) > 1 else "")).hex())
        return
    else:
        sys.exit("unknown mode " + mode)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
