#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Hostile local clients for tests/regress/t_hostile.sh, and the canary
that watches the daemon serve everybody else meanwhile.

  hostile.py SOCK canary TOKEN SECONDS OUT      VERIFY TOKEN in a loop on one
        connection until SECONDS pass or the file OUT.stop appears; writes
        {"n","p50_ms","p99_ms","max_ms","wrong","errors"} to OUT
  hostile.py SOCK listflood PID NCONN NFRAMES SECONDS
        NCONN connections each write NFRAMES LIST frames and never read;
        samples the daemon's RSS meanwhile: {"peak_rss_kb","sent"}
  hostile.py SOCK hog N SECONDS       N ISSUEs left at their prompt:
        {"conv","errors","waiting"} (first answer of each within 3 s)
  hostile.py SOCK firstprompt         one ISSUE: {"seconds","first"} until its
        first answer (a CONV, or an ERROR)
  hostile.py SOCK guess N PASSWORD    N ISSUEs at once, each answering its
        prompt with PASSWORD: {"errors"} (final answers)
  hostile.py SOCK garbage SECONDS     random and mutated frames on many short
        connections: {"conns","frames"}
  hostile.py SOCK slowlist USER K     K LISTs of USER at once, read only after a
        pause: {"lists": [record ids of each answer], "bad": why not whole}

Every result is one JSON object on stdout.
"""
import json
import os
import random
import select
import socket
import struct
import sys
import time

MSG_ISSUE, MSG_CONV_REPLY, MSG_LIST, MSG_VERIFY, MSG_STATUS = 1, 2, 3, 7, 8
MSG_ERROR, MSG_CONV, MSG_VERIFY_RESULT = 0x80, 0x81, 0x86


def frame(mtype, body=b""):
    return b"TK" + bytes([1, mtype]) + struct.pack(">I", len(body)) + body


def pstr(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def issue_frame(name):
    return frame(MSG_ISSUE, pstr("") + pstr(name) + struct.pack(">q", 0) + b"\x00")


class Reader:
    """Whole frames from a socket."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def next(self, timeout):
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                (length,) = struct.unpack(">I", self.buf[4:8])
                if len(self.buf) >= 8 + length:
                    f = (self.buf[3], self.buf[8:8 + length])
                    self.buf = self.buf[8 + length:]
                    return f
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                data = b""
            if not data:
                return ("eof", b"")
            self.buf += data


def err_code(body):
    return struct.unpack(">H", body[:2])[0] if len(body) >= 2 else -1


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def canary(path, token, seconds, out):
    s = connect(path)
    r = Reader(s)
    req = frame(MSG_VERIFY, pstr(token))
    lat, wrong, errors, samples = [], 0, [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end and not os.path.exists(out + ".stop"):
        t0 = time.monotonic()
        s.sendall(req)
        f = r.next(30)
        lat.append(time.monotonic() - t0)
        samples.append((time.time(), lat[-1]))
        if f is None or f[0] == "eof":
            errors.append("no answer")
            break
        if f[0] == MSG_ERROR:
            errors.append(err_code(f[1]))
        elif f[0] != MSG_VERIFY_RESULT or f[1][:1] != b"\x01":
            wrong += 1
        time.sleep(0.002)
    lat.sort()
    n = len(lat)
    res = {"n": n, "wrong": wrong, "errors": errors,
           "p50_ms": round(lat[n // 2] * 1000, 3) if n else None,
           "p99_ms": round(lat[min(n - 1, n * 99 // 100)] * 1000, 3) if n else None,
           "max_ms": round(lat[-1] * 1000, 3) if n else None}
    phases = out + ".phases"
    if os.path.exists(phases):
        # p99 per phase of the test: lines "UNIXTIME NAME" mark where each starts
        marks = []
        with open(phases) as f:
            for line in f:
                t, name = line.split(" ", 1)
                marks.append((float(t), name.strip()))
        res["phases"] = {}
        for i, (t, name) in enumerate(marks):
            until = marks[i + 1][0] if i + 1 < len(marks) else float("inf")
            ph = sorted(l for (w, l) in samples if t <= w < until)
            if ph:
                res["phases"][name] = {"n": len(ph),
                                       "p99_ms": round(ph[min(len(ph) - 1, len(ph) * 99 // 100)] * 1000, 3),
                                       "max_ms": round(ph[-1] * 1000, 3)}
    with open(out + ".tmp", "w") as f:
        json.dump(res, f)
    os.rename(out + ".tmp", out)


def listflood(path, pid, nconn, nframes, seconds):
    data = frame(MSG_LIST, b"\x00" + pstr("")) * nframes
    socks = []
    for _ in range(nconn):
        s = connect(path)
        s.setblocking(False)
        socks.append([s, 0])
    peak, sent = rss_kb(pid), 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for e in socks:
            if e[1] < len(data):
                try:
                    e[1] += e[0].send(data[e[1]:e[1] + 65536])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    e[1] = len(data)
        peak = max(peak, rss_kb(pid))
        time.sleep(0.02)
    sent = sum(e[1] for e in socks)
    for e in socks:
        e[0].close()
    print(json.dumps({"peak_rss_kb": peak, "sent": sent}))


def hog(path, n, seconds):
    conns = []
    for i in range(n):
        try:
            s = connect(path)
            s.sendall(issue_frame("hog-%d-%d" % (os.getpid(), i)))
            conns.append(s)
        except OSError:
            pass
    res = {"conv": 0, "errors": [], "waiting": 0}
    readers = [[Reader(s), None] for s in conns]
    end = time.monotonic() + 3
    while time.monotonic() < end and any(r[1] is None for r in readers):
        for r in readers:
            if r[1] is None:
                r[1] = r[0].next(0.02)
    for r in readers:
        f = r[1]
        if f is None:
            res["waiting"] += 1
        elif f[0] == MSG_CONV:
            res["conv"] += 1
        elif f[0] == MSG_ERROR:
            res["errors"].append(err_code(f[1]))
    print(json.dumps(res))
    sys.stdout.flush()
    time.sleep(seconds)
    for s in conns:
        s.close()


def firstprompt(path):
    s = connect(path)
    t0 = time.monotonic()
    s.sendall(issue_frame("first-%d" % os.getpid()))
    f = Reader(s).next(60)
    res = {"seconds": round(time.monotonic() - t0, 3),
           "first": None if f is None else (f[0] if f[0] != MSG_ERROR else "error %d" % err_code(f[1]))}
    s.close()
    print(json.dumps(res))


def guess(path, n, password):
    conns = []
    for i in range(n):
        s = connect(path)
        s.sendall(issue_frame("guess-%d-%d" % (os.getpid(), i)))
        conns.append([s, Reader(s), None])
    reply = frame(MSG_CONV_REPLY, b"\x01" + pstr(password))
    end = time.monotonic() + 60
    while time.monotonic() < end and any(c[2] is None for c in conns):
        for c in conns:
            if c[2] is not None:
                continue
            f = c[1].next(0.05)
            if f is None:
                continue
            if f[0] == MSG_CONV:
                c[0].sendall(reply)
            elif f[0] == MSG_ERROR:
                c[2] = err_code(f[1])
            else:
                c[2] = "frame 0x%x" % f[0] if f[0] != "eof" else "eof"
    print(json.dumps({"errors": [c[2] for c in conns]}))


def garbage(path, seconds):
    rng = random.Random(os.getpid())
    valid = [frame(MSG_STATUS), frame(MSG_LIST, b"\x00" + pstr("")),
             frame(MSG_VERIFY, pstr("tkr_" + "A" * 50)), issue_frame("g"),
             frame(MSG_CONV_REPLY, b"\x01" + pstr("x"))]
    conns = frames = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s = connect(path)
        except OSError:
            time.sleep(0.01)
            continue
        conns += 1
        out = b""
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            if kind < 0.3:
                out += os.urandom(rng.randint(1, 64))
            else:
                f = bytearray(rng.choice(valid))
                for _ in range(rng.randint(1, 4)):
                    i = rng.randrange(len(f))
                    f[i] ^= 1 << rng.randrange(8)
                if rng.random() < 0.3:
                    f = f[:rng.randrange(len(f))]
                out += bytes(f)
            frames += 1
        try:
            s.sendall(out)
            s.setblocking(False)
            select.select([s], [], [], 0.02)
            try:
                s.recv(65536)
            except OSError:
                pass
        except OSError:
            pass
        s.close()
    print(json.dumps({"conns": conns, "frames": frames}))


def slowlist(path, user, k):
    s = connect(path)
    s.sendall(frame(MSG_LIST, b"\x00" + pstr(user)) * k)
    time.sleep(0.5)		# the daemon meets a client that does not read
    r, lists, bad = Reader(s), [], None
    ids = []
    while len(lists) < k and bad is None:
        f = r.next(30)
        if f is None or f[0] != 0x83:
            bad = "frame %r" % (f[0] if f else None)
            break
        body = f[1]
        more, (count,), off = body[0], struct.unpack(">H", body[1:3]), 3
        for _ in range(count):
            (ln,) = struct.unpack(">H", body[off:off + 2])
            ids.append(body[off + 2:off + 2 + ln].decode())
            off += 2 + ln
            # skip the rest of the record: parent, user, uid, name, kind,
            # created, expires, last_used, scopes
            (ln,) = struct.unpack(">H", body[off:off + 2]); off += 2 + ln
            (ln,) = struct.unpack(">H", body[off:off + 2]); off += 2 + ln + 4
            (ln,) = struct.unpack(">H", body[off:off + 2]); off += 2 + ln + 1 + 24
            nsc = body[off]; off += 1
            for _ in range(nsc):
                (ln,) = struct.unpack(">H", body[off:off + 2]); off += 2 + ln
        if not more:
            lists.append(ids)
            ids = []
    print(json.dumps({"lists": lists, "bad": bad}))


def main():
    path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "canary":
        canary(path, args[0], float(args[1]), args[2])
    elif mode == "listflood":
        listflood(path, int(args[0]), int(args[1]), int(args[2]), float(args[3]))
    elif mode == "hog":
        hog(path, int(args[0]), float(args[1]))
    elif mode == "firstprompt":
        firstprompt(path)
    elif mode == "guess":
        guess(path, int(args[0]), args[1])
    elif mode == "garbage":
        garbage(path, float(args[0]))
    elif mode == "slowlist":
        slowlist(path, args[0], int(args[1]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
