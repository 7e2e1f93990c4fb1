# SPDX-License-Identifier: ISC
"""The wire protocol (protocol/PROTOCOL.md) as the benchmark's Python
clients need it: framing, strings, and a connection that reads whole frames.
Used by issue-tokens.py and churn.py."""
import socket
import struct

MSG_ISSUE, MSG_CONV_REPLY, MSG_REVOKE, MSG_EXCHANGE, MSG_STATUS = 0x01, 0x02, 0x04, 0x06, 0x08
MSG_ERROR, MSG_CONV, MSG_ISSUED, MSG_REVOKED, MSG_EXCHANGED, MSG_STATUS_RESULT = \
    0x80, 0x81, 0x82, 0x84, 0x85, 0x87
ECHO_OFF, ECHO_ON = 1, 2


class ProtocolError(Exception):
    """The connection is unusable: closed, timed out or out of step."""


def frame(mtype, body):
    return b"TK" + bytes([1, mtype]) + struct.pack(">I", len(body)) + body


def pstr(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def getstr(body, off):
    (n,) = struct.unpack(">H", body[off:off + 2])
    return body[off + 2:off + 2 + n].decode(), off + 2 + n


def error_text(body):
    (code,) = struct.unpack(">H", body[:2])
    msg, _ = getstr(body, 2)
    return "error %d: %s" % (code, msg)


class Conn:
    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def frame(self):
        """The next frame from the daemon: (type, body)."""
        while True:
            if len(self.buf) >= 8:
                if self.buf[:3] != b"TK\x01" or self.buf[3] < 0x80:
                    raise ProtocolError("bad frame header from the daemon")
                (length,) = struct.unpack(">I", self.buf[4:8])
                if length > 65536:
                    raise ProtocolError("frame length %d from the daemon" % length)
                if len(self.buf) >= 8 + length:
                    mtype, body = self.buf[3], self.buf[8:8 + length]
                    self.buf = self.buf[8 + length:]
                    return mtype, body
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                raise ProtocolError("no answer from the daemon in %g s" % self.s.gettimeout())
            if not data:
                raise ProtocolError("the daemon closed the connection")
            self.buf += data
