#!/usr/bin/env python3
"""Raw protocol client for the regression tests: sends hand-made frames.

  rawclient.py SOCKET send HEX WAIT     send bytes, then read for up to WAIT s
  rawclient.py SOCKET close HEX         send bytes, close at once (truncated frame)
  rawclient.py SOCKET idle WAIT         connect, send nothing, read for up to WAIT s
  rawclient.py SOCKET issue-hang WAIT   send ISSUE, read the CONV, never answer
  rawclient.py SOCKET hold N WAIT       open N connections, report how many the
                                        daemon closed or refused within WAIT s

Prints one JSON object: closed (the daemon closed the connection), elapsed
(seconds until it did, or until WAIT ran out), frames (response types in
order), errors (codes of ERROR frames), error_at (seconds until the first
ERROR frame), conv (prompt texts).
"""
import json
import socket
import struct
import sys
import time

MSG_ISSUE, MSG_STATUS = 0x01, 0x08
MSG_ERROR, MSG_CONV = 0x80, 0x81


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


def main():
    path, mode = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if mode == "send":
        s = connect(path)
        try:
            s.sendall(bytes.fromhex(args[0]))
        except (BrokenPipeError, ConnectionResetError):
            pass
        res = read_frames(s, float(args[1]))
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
        res = read_frames(s, float(args[0]))
        res["first"] = first
    elif mode == "hold":
        n, wait = int(args[0]), float(args[1])
        socks, refused = [], 0
        for _ in range(n):
            try:
                socks.append(connect(path))
            except OSError:
                refused += 1
        time.sleep(0.5)
        closed = 0
        for s in socks:
            r = read_frames(s, 0.05)
            if r["closed"] or r["frames"]:
                closed += 1
        time.sleep(max(0.0, wait - 0.5))
        res = {"closed": closed, "refused": refused, "open": len(socks) - closed}
        for s in socks:
            s.close()
    elif mode == "frame":
        # frame TYPE BODYHEX: print the hex of a well-formed frame
        print(frame(int(args[0], 0), bytes.fromhex(args[1] if len(args) > 1 else "")).hex())
        return
    else:
        sys.exit("unknown mode " + mode)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
