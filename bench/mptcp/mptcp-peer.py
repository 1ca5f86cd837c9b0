#!/usr/bin/env python3
"""Kernel MPTCP baseline for the netns benchmarks: one bulk transfer over IPPROTO_MPTCP.

    mptcp-peer.py server --port 5201            # in host b: accept one connection, read to EOF
    mptcp-peer.py client --connect 198.51.100.2 --port 5201 --bytes 50000000   # in host a

Both print JSON lines on stdout, the protocol the Braid peer (scripts/netns/braid-peer.ts)
speaks too, so the benchmark reads both alike:

    {"type": "ready"}                                   listening / connected (the client
                                                        adds "subflows", extra subflows joined)
    {"type": "progress", "bytes": N}                    receiver, every 1 MiB
    {"type": "done", "bytes": N, "sha256": "...",       at the end; the receiver adds its
     "buckets": [[index, bytes], ...]}                  delivery timeline in 10 ms buckets
    {"type": "error", "code": "...", "message": "..."}  then exit status 1

Bucket indexes are CLOCK_MONOTONIC milliseconds // 10, the clock Node's process.hrtime reads,
so the benchmark lines them up with the moment it cut a link. The content is 64 KiB chunks of
one random block, each stamped with its index, hashed on both sides.
Needs Python >= 3.10 (socket.IPPROTO_MPTCP) and a kernel with net.mptcp.enabled = 1.
"""
import argparse
import hashlib
import json
import os
import socket
import sys
import time

CHUNK_BYTES = 64 * 1024
PROGRESS_STEP_BYTES = 1 << 20
BUCKET_MS = 10
# A transfer is at most 16 GiB: bounds the run and the receiver's timeline.
BYTES_MAX = 16 << 30
# Idle limit for any single socket wait: a stalled transfer ends with an error, not a hang.
IDLE_TIMEOUT_S = 30.0
# getsockopt(SOL_MPTCP, MPTCP_INFO) from linux/mptcp.h; the first byte of struct mptcp_info is
# mptcpi_subflows, the number of subflows joined besides the first.
SOL_MPTCP = 284
MPTCP_INFO = 1
SUBFLOW_POLL_S = 0.01


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def fail(code, message):
    emit({"type": "error", "code": code, "message": message})
    sys.exit(1)


def mptcp_socket(family):
    proto = getattr(socket, "IPPROTO_MPTCP", None)
    if proto is None:
        fail("ERR_MPTCP_UNSUPPORTED", "this Python has no socket.IPPROTO_MPTCP (needs 3.10+)")
    try:
        return socket.socket(family, socket.SOCK_STREAM, proto)
    except OSError as err:
        fail("ERR_MPTCP_UNSUPPORTED", f"kernel refused an MPTCP socket: {err}")


def joined_subflows(sock):
    """Subflows joined besides the first, or None where the kernel does not say."""
    try:
        info = sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 64)
    except OSError:
        return None
    return info[0] if info else None


def mptcp_counters():
    """The nonzero MPTcpExt counters of this network namespace, for a diagnosis."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().split("\n")
    except OSError:
        return {}
    for i, line in enumerate(lines):
        if line.startswith("MPTcpExt:") and i + 1 < len(lines):
            names, values = line.split()[1:], lines[i + 1].split()[1:]
            return {k: int(v) for k, v in zip(names, values) if v != "0"}
    return {}


def wait_for_subflows(sock, wanted, wait_s):
    """Block until `wanted` extra subflows have joined: the baseline then runs as configured,
    not as plain TCP on one link while the path manager is still at work."""
    deadline = time.monotonic() + wait_s
    while True:
        n = joined_subflows(sock)
        if n is None:
            fail("ERR_MPTCP_INFO", "the kernel answers no MPTCP_INFO, so joined subflows are unknown")
        if n >= wanted:
            return n
        if time.monotonic() >= deadline:
            fail(
                "ERR_MPTCP_NO_SUBFLOW",
                f"{n} of {wanted} extra subflows joined within {wait_s:g} s; "
                f"MPTcpExt counters: {json.dumps(mptcp_counters())}",
            )
        time.sleep(SUBFLOW_POLL_S)


def now_ms():
    return time.monotonic_ns() / 1e6


def serve(args):
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    listener = mptcp_socket(family)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.port))
    listener.listen(1)
    listener.settimeout(IDLE_TIMEOUT_S)
    emit({"type": "ready", "port": args.port})
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        fail("ERR_MPTCP_TIMEOUT", f"no connection within {IDLE_TIMEOUT_S} s")
    # The listener stays open until the transfer ends: a subflow joining later (MP_JOIN) needs
    # it, and a join that met a closed listener was reset (seen: MPRstTx, no second subflow).
    # It accepts no other connection: nothing calls accept() on it again.
    conn.settimeout(IDLE_TIMEOUT_S)
    digest = hashlib.sha256()
    buckets = {}
    received = 0
    next_progress = PROGRESS_STEP_BYTES
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        try:
            n = conn.recv_into(buf)
        except socket.timeout:
            fail("ERR_MPTCP_TIMEOUT", f"nothing received for {IDLE_TIMEOUT_S} s at {received} bytes")
        except OSError as err:
            fail("ERR_MPTCP_RECV", f"{err} after {received} bytes")
        if n == 0:
            break
        digest.update(view[:n])
        received += n
        if received > BYTES_MAX:
            fail("ERR_MPTCP_TOO_MUCH", f"more than {BYTES_MAX} bytes")
        index = int(now_ms() // BUCKET_MS)
        buckets[index] = buckets.get(index, 0) + n
        if received >= next_progress:
            emit({"type": "progress", "bytes": received})
            next_progress += PROGRESS_STEP_BYTES
    conn.close()
    listener.close()
    emit(
        {
            "type": "done",
            "bytes": received,
            "sha256": digest.hexdigest(),
            "buckets": sorted([k, v] for k, v in buckets.items()),
        }
    )


def send(args):
    if not 0 < args.bytes <= BYTES_MAX:
        fail("ERR_MPTCP_ARGUMENT", f"--bytes must be in (0, {BYTES_MAX}]")
    family = socket.AF_INET6 if ":" in args.connect else socket.AF_INET
    sock = mptcp_socket(family)
    sock.settimeout(IDLE_TIMEOUT_S)
    try:
        sock.connect((args.connect, args.port))
    except OSError as err:
        fail("ERR_MPTCP_CONNECT", f"connect to {args.connect}:{args.port}: {err}")
    block = bytearray(os.urandom(CHUNK_BYTES))
    digest = hashlib.sha256()
    sent = 0
    index = 0
    start = now_ms()
    waited = args.wait_subflows == 0
    if waited:
        emit({"type": "ready", "subflows": joined_subflows(sock)})
    while sent < args.bytes:
        if not waited and index == 1:
            # The server accepts a join only once the connection is fully established, which
            # takes a first data segment from the client: wait after the first chunk.
            waited = True
            subflows = wait_for_subflows(sock, args.wait_subflows, args.wait_ms / 1000)
            emit({"type": "ready", "subflows": subflows})
        block[0:8] = index.to_bytes(8, "big")
        chunk = memoryview(block)[: min(CHUNK_BYTES, args.bytes - sent)]
        try:
            sock.sendall(chunk)
        except OSError as err:
            fail("ERR_MPTCP_SEND", f"{err} after {sent} bytes")
        digest.update(chunk)
        sent += len(chunk)
        index += 1
    subflows = joined_subflows(sock)
    sock.shutdown(socket.SHUT_WR)
    # The server closes once it has read everything: wait for it, so "done" means delivered.
    try:
        while sock.recv(4096):
            pass
    except OSError as err:
        fail("ERR_MPTCP_RECV", f"waiting for the server to finish: {err}")
    sock.close()
    emit(
        {
            "type": "done",
            "bytes": sent,
            "sha256": digest.hexdigest(),
            "elapsedMs": now_ms() - start,
            "subflows": subflows,
        }
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    server = sub.add_parser("server")
    server.add_argument("--bind", default="0.0.0.0")
    server.add_argument("--port", type=int, default=5201)
    client = sub.add_parser("client")
    client.add_argument("--connect", required=True)
    client.add_argument("--port", type=int, default=5201)
    client.add_argument("--bytes", type=int, required=True)
    client.add_argument(
        "--wait-subflows", type=int, default=0, help="send only once this many extra subflows joined"
    )
    client.add_argument("--wait-ms", type=int, default=10000, help="how long to wait for them")
    args = parser.parse_args()
    if args.mode == "server":
        serve(args)
    else:
        send(args)


if __name__ == "__main__":
    main()
