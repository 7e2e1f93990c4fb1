#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Speak on tokend's monitor channel as one of its two processes (root only).

  chanwrite.py to-monitor ENGINE_PID HEX
      send HEX as one message on the engine's end (its fd 3): what the
      monitor receives is what a compromised engine could send
  chanwrite.py to-engine ENGINE_PID HEX
      send HEX on the monitor's end of the same channel

The end is borrowed with pidfd_getfd(2) (Linux 5.6), which needs the right
to ptrace the process: root.  Prints nothing; exits 0 once the message was
sent.
"""
import ctypes
import os
import re
import socket
import subprocess
import sys

SYS_PIDFD_GETFD = 438	# the same on x86_64, arm64 and every newer table
CHAN_FD = 3


def borrow(pid, fd):
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        got = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if got < 0:
            err = ctypes.get_errno()
            raise OSError(err, "pidfd_getfd(%d, fd %d): %s" % (pid, fd, os.strerror(err)))
        return got
    finally:
        os.close(pidfd)


def inode(pid, fd):
    m = re.match(r"socket:\[(\d+)\]$", os.readlink("/proc/%d/fd/%d" % (pid, fd)))
    if not m:
        sys.exit("fd %d of %d is not a socket" % (fd, pid))
    return m.group(1)


def monitor_end(engine):
    """(pid, fd) of the monitor's end of the engine's channel, from ss -xp."""
    mine = inode(engine, CHAN_FD)
    out = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        # Netid State Recv-Q Send-Q Local Port Peer Port Process
        if len(f) >= 9 and f[0] == "u_seq" and f[7] == mine:
            m = re.search(r"pid=(\d+),fd=(\d+)", line)
            if m:
                return int(m.group(1)), int(m.group(2))
    sys.exit("no peer of the engine's channel (inode %s) in ss -xp" % mine)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-monitor", "to-engine"):
        sys.exit(__doc__)
    engine = int(sys.argv[2])
    data = bytes.fromhex(sys.argv[3])
    pid, fd = (engine, CHAN_FD) if sys.argv[1] == "to-monitor" else monitor_end(engine)
    sock = socket.socket(fileno=borrow(pid, fd))
    sock.send(data)
    sock.close()		# our copy only


if __name__ == "__main__":
    main()
