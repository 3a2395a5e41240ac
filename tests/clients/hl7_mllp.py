#!/usr/bin/env python3
"""A real HL7 v2 MLLP client against a real Lantern server.

Usage: hl7_mllp.py /path/to/lantern

Starts `lantern serve --mllp` on free ports with a temporary data directory, sends every
message of ../shared/data/hl7v2 (relative to the repository root) with the PyPI `hl7` package's
`hl7.client.MLLPClient`, and checks each ACK: MSA-2 echoes MSH-10, MSA-1 is AA, or AE/AR (CE/CR)
with an ERR segment saying why. The server acknowledges on receipt (its default), so the test
then waits until GET /admin/inbox shows nothing queued, checks that the inbox accounts for
every message, and that sending everything again gets the same answers, except that a message
acknowledged on receipt and then dead-lettered when applied is answered with its AE/AR. Exits 0 with a message if the sample data
is absent; non-zero on any failure; always stops the server.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import hl7
import hl7.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "hl7v2")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def messages():
    out = []
    for name in sorted(os.listdir(DATA)):
        if not name.endswith(".hl7"):
            continue
        raw = open(os.path.join(DATA, name), "rb").read()
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        lines = [l for l in raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r") if l.strip()]
        current = []
        for l in lines:
            if l[:3] in (b"FHS", b"BHS", b"BTS", b"FTS"):
                continue
            if l.startswith(b"MSH") and current:
                out.append((name, b"\r".join(current)))
                current = []
            current.append(l)
        if current:
            out.append((name, b"\r".join(current)))
    return out


def control_id(msg):
    msh = msg.split(b"\r")[0]
    sep = msh[3:4]
    fields = msh.split(sep)
    return fields[9].decode("latin-1") if len(fields) > 9 else ""


def wait_port(port, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lantern serve exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("lantern serve did not start listening")


def send_all(port, msgs):
    answers = []
    with hl7.client.MLLPClient("127.0.0.1", port, encoding="latin-1") as client:
        for name, m in msgs:
            ack = client.send_message(m)
            if isinstance(ack, bytes):
                ack = ack.decode("latin-1")
            segs = [s for s in ack.replace("\n", "\r").split("\r") if s]
            msa = next((s for s in segs if s.startswith("MSA")), None)
            assert msa, f"{name}: no MSA in {ack!r}"
            f = msa.split(msa[3])
            code = f[1]
            assert f[2] == control_id(m), f"{name}: MSA-2 {f[2]!r} does not echo MSH-10 {control_id(m)!r}"
            assert code in ("AA", "AE", "AR", "CA", "CE", "CR"), f"{name}: {code}"
            if code not in ("AA", "CA"):
                assert any(s.startswith("ERR") for s in segs), f"{name}: {code} without ERR: {ack!r}"
            answers.append(code)
    return answers


def main():
    if len(sys.argv) < 2:
        print("usage: hl7_mllp.py /path/to/lantern", file=sys.stderr)
        return 2
    if not os.path.isdir(DATA):
        print(f"skipped: ../shared not found ({DATA})")
        return 0
    msgs = messages()
    tmp = tempfile.mkdtemp(prefix="lantern-hl7-")
    http, mllp = free_port(), free_port()
    # A system token from the development issuer, made before the server opens the same key.
    token = subprocess.check_output([sys.argv[1], "token", "--data", tmp, "--system"], text=True).strip()
    proc = subprocess.Popen(
        [sys.argv[1], "serve", "--data", tmp, "--http", f"127.0.0.1:{http}", "--mllp", f"127.0.0.1:{mllp}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    def inbox():
        req = urllib.request.Request(f"http://127.0.0.1:{http}/admin/inbox", headers={"Authorization": f"Bearer {token}"})
        return json.load(urllib.request.urlopen(req, timeout=10))

    def drained(timeout=120):
        deadline = time.time() + timeout
        counts = inbox()
        while counts.get("queued", 0) and time.time() < deadline:
            time.sleep(0.1)
            counts = inbox()
        assert counts.get("queued") == 0, f"the queue did not drain: {counts}"
        return counts

    try:
        wait_port(mllp, proc)
        first = send_all(mllp, msgs)
        counts = drained()
        distinct = len(set(m for _, m in msgs))
        total = counts.get("processed", 0) + counts.get("dead", 0)
        assert total == distinct, f"inbox {counts} does not account for {distinct} messages"
        second = send_all(mllp, msgs)
        changed = [(n, a, b) for (n, _), a, b in zip(msgs, first, second) if a != b]
        late = [c for c in changed if c[1] in ("AA", "CA") and c[2] in ("AE", "AR", "CE", "CR")]
        assert changed == late, f"a re-send was answered differently: {changed}"
        assert len(late) <= counts.get("dead", 0), f"{late} are not all dead letters: {counts}"
        again = drained()
        assert again == counts, f"re-sending changed the inbox: {counts} -> {again}"
        summary = {c: first.count(c) for c in sorted(set(first))}
        print(f"ok: {len(msgs)} messages over MLLP, ACKs {summary}, inbox {counts}, dead-lettered when applied: {len(late)}")
        return 0
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
