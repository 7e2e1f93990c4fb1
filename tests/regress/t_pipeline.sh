#!/bin/bash
# SPDX-License-Identifier: ISC
# Pipelining around an ISSUE: requests queued behind it keep their order,
# a CONV_REPLY behind them still reaches PAM, and a client cannot make the
# daemon buffer without bound while a PAM conversation waits.
. "$(dirname "$0")/lib.sh"

setup max_frame=4096
start_daemon || finish

fresh_oath
CODE=$(oathtool --totp "$KEY_ME")
RES=$("$PYTHON" - "$SOCK" "$PW_ME" "$CODE" <<'PY'
import json, socket, struct, sys
path, pw, code = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
def s16(b): return struct.pack(">H", len(b)) + b
def frame(t, body=b""): return b"TK\x01" + bytes([t]) + struct.pack(">I", len(body)) + body
def read(s):
    h = b""
    while len(h) < 8:
        d = s.recv(8 - len(h))
        if not d: return None, None
        h += d
    n = struct.unpack(">I", h[4:])[0]; b = b""
    while len(b) < n: b += s.recv(n - len(b))
    return h[3], b
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10)
# ISSUE, then a STATUS pipelined before any prompt is answered.
s.sendall(frame(1, s16(b"") + s16(b"piped") + struct.pack(">Q", 0) + b"\x00") + frame(8))
seen = []
for answer in (pw, code):
    t, b = read(s); seen.append(t)
    s.sendall(frame(2, b"\x01" + s16(answer)))   # the reply comes after the STATUS
t1, _ = read(s); t2, _ = read(s)
seen += [t1, t2]
# Flood behind a new ISSUE: the daemon must drop us, not buffer it all.
s2 = socket.socket(socket.AF_UNIX); s2.connect(path); s2.settimeout(10)
s2.sendall(frame(1, s16(b"") + s16(b"flood") + struct.pack(">Q", 0) + b"\x00"))
read(s2)
sent, closed = 0, False
try:
    for _ in range(4096):
        s2.sendall(frame(8) * 512); sent += 8 * 512
except (BrokenPipeError, ConnectionResetError):
    closed = True
print(json.dumps({"seen": seen, "flood_closed": closed, "flood_sent": sent}))
PY
)
expect_json "ISSUE + pipelined STATUS: two prompts, then ISSUED, then STATUS_RESULT" \
    'j["seen"] == [0x81, 0x81, 0x82, 0x87]' "$RES"
expect_json "a client flooding behind a waiting ISSUE is dropped before 16 MiB" \
    'j["flood_closed"] and j["flood_sent"] < 16 << 20' "$RES"
tctl status
expect_rc "the daemon still serves others" 0

# VERIFY, REVOKE, VERIFY in one write: the second VERIFY must see the revoke.
issue_ok batch || finish
BATCH_TOKEN=$TOKEN
tctl --json list
BATCH_ID=$(json_eval '[t["id"] for t in j if t["name"] == "batch"][0]' "$OUT")
RES=$("$PYTHON" - "$SOCK" "$BATCH_TOKEN" "$BATCH_ID" <<'PY'
import json, socket, struct, sys
path, tok, tid = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
def s16(b): return struct.pack(">H", len(b)) + b
def frame(t, body=b""): return b"TK\x01" + bytes([t]) + struct.pack(">I", len(body)) + body
s = socket.socket(socket.AF_UNIX); s.connect(path); s.settimeout(10)
s.sendall(frame(7, s16(tok)) + frame(4, s16(tid)) + frame(7, s16(tok)))
buf, out = b"", []
while len(out) < 3:
    buf += s.recv(65536)
    while len(buf) >= 8 and len(buf) >= 8 + struct.unpack(">I", buf[4:8])[0]:
        n = struct.unpack(">I", buf[4:8])[0]
        out.append([buf[3], buf[8] if n else None]); buf = buf[8 + n:]
print(json.dumps(out))
PY
)
expect_json "pipelined VERIFY, REVOKE, VERIFY: active, revoked, then inactive" \
    'j == [[0x86, 1], [0x84, 0], [0x86, 0]]' "$RES"

tctl --json list
expect_json "the pipelined ISSUE made its token" '"piped" in [t["name"] for t in j]' "$OUT"
stop_daemon
finish
