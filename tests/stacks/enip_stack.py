#!/usr/bin/env python3
"""Records an EtherNet/IP conversation between cpppo's simulator and client.

Usage: python3 tests/stacks/enip_stack.py OUT_DIR

Starts cpppo's EtherNet/IP simulator (`python3 -m cpppo.server.enip`, TCP
and UDP) with a few tags on 127.0.0.x and a free port chosen at run time,
captures the loopback traffic with tcpdump, and runs cpppo's client
through a scripted sequence: RegisterSession, ListIdentity and
ListServices over TCP, Read/Write Tag on single elements and arrays (INT
and REAL), fragmented reads and writes, a read of a tag that does not
exist, Get_Attribute_Single and Get_Attributes_All on the Identity object,
reads bundled in a Multiple_Service_Packet, and ListIdentity over UDP.

Writes into OUT_DIR:
  enip.pcap     the capture
  truth.json    what the client sent and received, operation by operation,
                as observed by the client (independent of PlantShield)
  server.log, tcpdump.log   diagnostics

Exits non-zero (with a message on stderr) when anything is missing or goes
wrong, so that the caller never mistakes a broken environment for a pass;
75 (EX_TEMPFAIL) when tcpdump dropped packets: run it again (capture.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

from capture import Capture, run_main, stop_process

TAGS = ["SCADA=INT[10]", "TEMP=REAL[4]"]


def fail(msg: str) -> None:
    print(f"enip_stack.py: {msg}", file=sys.stderr)
    sys.exit(1)


def free_endpoint() -> tuple[str, int]:
    """A loopback address and a port free for both TCP and UDP."""
    for _ in range(50):
        host = f"127.0.0.{random.randint(2, 250)}"
        port = random.randint(20000, 60000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, socket.socket(
                socket.AF_INET, socket.SOCK_DGRAM
            ) as u:
                t.bind((host, port))
                u.bind((host, port))
            return host, port
        except OSError:
            continue
    fail("no free loopback port found")
    raise AssertionError


def wait_listening(host: str, port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            fail(f"{what} exited early with status {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    fail(f"{what} did not start listening on {host}:{port}")


def context_hex(index: int) -> str:
    """The sender context cpppo's connector uses for request `index`
    (the index in decimal ASCII), as 8 bytes in hex."""
    b = str(index).encode("ascii")[:8]
    return (b + b"\0" * (8 - len(b))).hex()


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: enip_stack.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    try:
        from cpppo.server import enip  # noqa: F401
        from cpppo.server.enip import client
    except ImportError as e:
        fail(f"cpppo is not installed ({e}); run: python3 -m pip install -r tests/requirements.txt")
    host, port = free_endpoint()
    pcap = os.path.join(out, "enip.pcap")
    from importlib.metadata import version

    truth: dict = {"cpppo": version("cpppo"), "host": host, "port": port, "operations": []}
    ops = truth["operations"]
    # A capture with dropped packets raises CaptureIncomplete (exit 75).
    with Capture(pcap, f"host {host} and port {port}", log=os.path.join(out, "tcpdump.log")):
        server_log = open(os.path.join(out, "server.log"), "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "cpppo.server.enip", "--address", f"{host}:{port}", *TAGS],
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_listening(host, port, server, "the cpppo EtherNet/IP server")
            # The probe connection above closed at once; start the real work.
            with client.connector(host=host, port=port, timeout=5) as conn:
                ops.append({"op": "register_session", "session_handle": conn.session})

                conn.list_identity(timeout=5, sender_context=b"ident")
                rsp, _ = client.await_response(conn, timeout=5)
                if not rsp or "enip.CIP.list_identity" not in rsp:
                    fail(f"no ListIdentity reply over TCP: {rsp!r}")
                item = rsp.enip.CIP.list_identity.CPF.item[0].identity_object
                ops.append({
                    "op": "list_identity",
                    "transport": "tcp",
                    "sender_context": b"ident".ljust(8, b"\0").hex(),
                    "vendor_id": item.vendor_id,
                    "device_type": item.device_type,
                    "product_code": item.product_code,
                    # A USINT major then a USINT minor, which cpppo reads as one UINT.
                    "revision": f"{item.product_revision & 0xff}.{item.product_revision >> 8}",
                    "status": item.status_word,
                    "state": item.state,
                    "serial_number": f"{item.serial_number:08x}",
                    "product_name": item.product_name,
                })

                conn.list_services(timeout=5, sender_context=b"svcs")
                rsp, _ = client.await_response(conn, timeout=5)
                if not rsp or "enip.CIP.list_services" not in rsp:
                    fail(f"no ListServices reply: {rsp!r}")
                svc = rsp.enip.CIP.list_services.CPF.item[0].communications_service
                ops.append({
                    "op": "list_services",
                    "sender_context": b"svcs".ljust(8, b"\0").hex(),
                    "service_name": svc.service_name,
                    "capability": svc.capability,
                })

                index = 0

                def run(name, expect, tags=None, fragment=False, multiple=0, raw=None, on=None):
                    """Runs operations; records, per operation, what was asked and
                    what came back. `expect`: the CIP service per operation."""
                    nonlocal index
                    operations = raw if raw is not None else list(client.parse_operations(tags))
                    first = index
                    results = list((on or conn).synchronous(
                        operations=operations, index=index, fragment=fragment,
                        multiple=multiple, timeout=5))
                    if len(results) != len(operations):
                        fail(f"{name}: {len(results)} replies for {len(operations)} operations")
                    records = []
                    for i, (idx, descr, req, reply, status, value) in enumerate(results):
                        # The request the client built, and the operation asked for.
                        op = operations[i]
                        if req.get("service") != expect[i]:
                            fail(f"{name}: the client sent service {req.get('service')}, not {expect[i]}")
                        rec = {
                            "op": name,
                            "service": req["service"],
                            "sender_context": context_hex(idx),
                            "status": int(status) if status is not None else None,
                            "multiple": bool(multiple),
                        }
                        path = op.get("path", [])
                        names = [p["symbolic"] for p in path if "symbolic" in p]
                        elems = [p["element"] for p in path if "element" in p]
                        if names:
                            rec["tag"] = ".".join(names) + "".join(f"[{e}]" for e in elems)
                        for key in ("class", "instance", "attribute"):
                            vals = [p[key] for p in path if key in p]
                            if vals:
                                rec[key] = vals[-1]
                        for kind in ("read_tag", "read_frag", "write_tag", "write_frag"):
                            if f"{kind}.elements" in req:
                                rec["elements"] = req[f"{kind}.elements"]
                            if f"{kind}.offset" in req:
                                rec["offset"] = req[f"{kind}.offset"]
                            if f"{kind}.type" in req:
                                rec["data_type"] = req[f"{kind}.type"]
                        if "data" in op:
                            rec["values_written"] = list(op["data"])
                        elif isinstance(value, list) and status == 0:
                            rec["values_read"] = list(value)
                            for kind in ("read_tag", "read_frag"):
                                if f"{kind}.type" in reply:
                                    rec["data_type"] = reply[f"{kind}.type"]
                        records.append(rec)
                        index = max(index, idx + 1)
                    if multiple:
                        # Every bundled operation shares one sender context.
                        ctxs = {r["sender_context"] for r in records}
                        if len(ctxs) != 1:
                            fail(f"{name}: expected one Multiple Service Packet, got contexts {ctxs}")
                    if index == first:
                        index += 1
                    ops.extend(records)

                run("read_tag", [0x4C], ["SCADA[0]"])
                run("write_tag", [0x4D], ["SCADA[1-3]=(INT)4,5,6"])
                run("read_tag_array", [0x4C], ["SCADA[0-4]"])
                run("write_tag_real", [0x4D], ["TEMP[0]=(REAL)21.5"])
                run("read_tag_real", [0x4C], ["TEMP[0]"])
                run("read_tag_fragmented", [0x52], ["SCADA[0-9]"], fragment=True)
                run("write_tag_fragmented", [0x53], ["SCADA[5-6]=(INT)7,8"], fragment=True)
                run("get_attribute_single", [0x0E], raw=[{
                    "method": "get_attribute_single",
                    "path": [{"class": 1}, {"instance": 1}, {"attribute": 7}],
                }])
                run("get_attributes_all", [0x01], raw=[{
                    "method": "get_attributes_all",
                    "path": [{"class": 1}, {"instance": 1}],
                }])
                run("multiple_service_packet", [0x4C, 0x4C, 0x4C],
                    ["SCADA[0]", "SCADA[1-2]", "TEMP[0]"], multiple=500)

                # A tag the simulator does not have: cpppo answers with an
                # encapsulation error status, so do it on a connection of its own.
                with client.connector(host=host, port=port, timeout=5) as bad:
                    ops.append({"op": "register_session", "session_handle": bad.session})
                    issued = list(bad.issue(
                        operations=list(client.parse_operations(["NOPE[0]"])), index=index, timeout=5))
                    idx, _ctx, _descr, _op, req = issued[0]
                    try:
                        list(bad.harvest(issued=iter(issued), timeout=5))
                        fail("reading NOPE[0] did not fail")
                    except client.ENIPStatusError as e:
                        ops.append({
                            "op": "read_tag_unknown",
                            "service": req["service"],
                            "sender_context": context_hex(idx),
                            "tag": "NOPE[0]",
                            "elements": req["read_tag.elements"],
                            "encapsulation_status": e.status,
                        })
                        index = idx + 1

            # ListIdentity over UDP (unicast, so the reply comes back on the flow).
            with client.client(host=host, port=port, udp=True) as udp:
                udp.list_identity(timeout=5, sender_context=b"udp")
                rsp, _ = client.await_response(udp, timeout=5)
                if not rsp or "enip.CIP.list_identity" not in rsp:
                    fail(f"no ListIdentity reply over UDP: {rsp!r}")
                item = rsp.enip.CIP.list_identity.CPF.item[0].identity_object
                ops.append({
                    "op": "list_identity",
                    "transport": "udp",
                    "sender_context": b"udp".ljust(8, b"\0").hex(),
                    "vendor_id": item.vendor_id,
                    "product_name": item.product_name,
                })
            time.sleep(0.3)
        finally:
            stop_process(server, signal.SIGINT, timeout=5)
            time.sleep(0.2)
    if not os.path.exists(pcap) or os.path.getsize(pcap) <= 24:
        fail("the capture is empty")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    run_main(main, "enip_stack.py")
