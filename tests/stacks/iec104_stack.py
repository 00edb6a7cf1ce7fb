#!/usr/bin/env python3
"""Records an IEC 60870-5-104 conversation between two real c104 stacks.

Usage: python3 tests/stacks/iec104_stack.py OUT_DIR

Starts a c104 server (controlled station, common address 47: single and
double points, normalised, scaled and short float measured values, an
integrated total, a single command point with select-and-execute, direct
set-point and double command points) on 127.0.0.x and a free port chosen
at run time, captures the loopback traffic with tcpdump, and runs a c104
client (controlling station) through a scripted sequence: STARTDT, general
interrogation, counter interrogation, read command, periodic and
spontaneous measured values, a select-and-execute single command, a direct
double command, set-point commands, a command to an unknown address (a
negative confirmation), clock synchronisation, test command, and STOPDT.

The truth is what the CLIENT saw: every APDU it sent and received, through
c104's raw callbacks, decoded with c104's own decoder (`explain_bytes_dict`,
independent of PlantShield), grouped into the transactions the client
performed.

Writes into OUT_DIR:
  iec104.pcap   the capture
  truth.json    the client's view, transaction by transaction
  server.log, tcpdump.log   diagnostics

Exits non-zero (with a message on stderr) when anything is missing or goes
wrong, so that the caller never mistakes a broken environment for a pass;
75 (EX_TEMPFAIL) when tcpdump dropped packets or the c104 client lost a
confirmation: run it again (capture.py).
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

from capture import Capture, PeerRace, run_main, stop_process

CA = 47
# Server points: IOA -> (type name, initial value).
MONITOR = {
    100: ("M_SP_NA_1", True),
    101: ("M_DP_NA_1", "ON"),
    110: ("M_ME_NA_1", 0.25),
    111: ("M_ME_NB_1", -1234),
    112: ("M_ME_NC_1", 12.5),
    113: ("M_ME_TF_1", 7.75),
    120: ("M_IT_NA_1", 4242),
}
SINGLE_CMD = 300  # C_SC_NA_1, select and execute, drives 100
DOUBLE_CMD = 301  # C_DC_NA_1, direct, drives 101
SETPOINT_NC = 310  # C_SE_NC_1, direct, drives 112
SETPOINT_NA = 311  # C_SE_NA_1, direct, drives 110
UNKNOWN_IOA = 999  # not configured on the server
PERIODIC_MS = 1000  # M_ME_NC_1 112 is reported cyclically
SPONT_IOA = 113  # reported spontaneously by a server timer


def fail(msg: str) -> None:
    print(f"iec104_stack.py: {msg}", file=sys.stderr)
    sys.exit(1)


def import_c104():
    try:
        import c104  # noqa: F401
    except ImportError as exc:
        fail(f"the c104 package is missing ({exc}); pip install -r tests/requirements.txt")
    import c104

    return c104


# --------------------------------------------------------------------------
# Server (run in a child process: `iec104_stack.py --serve HOST PORT`)
# --------------------------------------------------------------------------


def serve(host: str, port: int) -> None:
    c104 = import_c104()
    server = c104.Server(ip=host, port=port, tick_rate_ms=50, select_timeout_ms=5000)
    # t3 of 2 s: a client silent that long is tested (TESTFR act/con).
    server.protocol_parameters.confirm_interval = 1
    server.protocol_parameters.keep_alive_interval = 2
    st = server.add_station(common_address=CA)
    points = {}
    for ioa, (tname, value) in MONITOR.items():
        report = PERIODIC_MS if ioa == 112 else 0
        p = st.add_point(io_address=ioa, type=getattr(c104.Type, tname), report_ms=report)
        if tname == "M_DP_NA_1":
            p.value = c104.Double.ON
        elif tname == "M_ME_NA_1":
            p.value = c104.NormalizedFloat(value)
        elif tname == "M_ME_NB_1":
            p.value = c104.Int16(value)
        elif tname == "M_IT_NA_1":
            p.value = value
        else:
            p.value = value
        points[ioa] = p

    def accept(point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage) -> c104.ResponseState:
        print(f"command ioa={point.io_address} value={point.value} select={message.is_select_command}",
              file=sys.stderr, flush=True)
        return c104.ResponseState.SUCCESS

    cmds = [
        (SINGLE_CMD, "C_SC_NA_1", c104.CommandMode.SELECT_AND_EXECUTE),
        (DOUBLE_CMD, "C_DC_NA_1", c104.CommandMode.DIRECT),
        (SETPOINT_NC, "C_SE_NC_1", c104.CommandMode.DIRECT),
        (SETPOINT_NA, "C_SE_NA_1", c104.CommandMode.DIRECT),
    ]
    for ioa, tname, mode in cmds:
        p = st.add_point(io_address=ioa, type=getattr(c104.Type, tname), command_mode=mode)
        p.on_receive(callable=accept)

    spont = points[SPONT_IOA]
    state = {"n": 0}

    def tick(point: c104.Point) -> None:
        # A change reported spontaneously, a few times in the whole run.
        if state["n"] < 3 and server.has_active_connections:
            state["n"] += 1
            point.value = 7.75 + state["n"]
            point.transmit(cause=c104.Cot.SPONTANEOUS)

    spont.on_timer(callable=tick, interval_ms=700)

    def stop(*_):
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.start()
    print("ready", flush=True)
    while True:
        time.sleep(0.2)


# --------------------------------------------------------------------------
# Client and truth
# --------------------------------------------------------------------------


class Wire:
    """Every APDU the client sent or received, in order, decoded by c104."""

    def __init__(self, c104):
        self.c104 = c104
        self.lock = threading.Lock()
        self.frames: list[dict] = []

    def add(self, direction: str, data: bytes) -> None:
        d = self.c104.explain_bytes_dict(apdu=data)
        f = {"dir": direction, "hex": data.hex(), "format": d["format"]}
        if d["format"] == "I":
            f.update(
                send_sequence=d["tx"],
                receive_sequence=d["rx"],
                type_id=int(d["type"].value) if hasattr(d["type"], "value") else int(d["type"]),
                type=str(d["type"]).split(".")[-1].split(":")[0],
                cause=int(d["cot"].value) if hasattr(d["cot"], "value") else int(d["cot"]),
                negative=bool(d["negative"]),
                test=bool(d["test"]),
                common_address=d["commonAddress"],
                originator_address=d["originatorAddress"],
                ioa=d["firstInformationObjectAddress"],
                num_objects=d["numberOfObjects"],
                sq=bool(d["sequence"]),
            )
            if "select" in d:
                f["select"] = bool(d["select"])
        elif d["format"] == "S":
            f["receive_sequence"] = d["rx"]
        else:
            f["function"] = f"{d['type']}_{d['cot']}".lower()
        with self.lock:
            self.frames.append(f)

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.frames)


def wait_for(cond, what: str, timeout: float = 5.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.02)
    fail(f"timed out waiting for {what}")


# The value each command carries, as the client set it (the single command
# ON, the double command OFF = DCS 1).
COMMAND_VALUES = {
    "single_command_select": 1,
    "single_command_execute": 1,
    "double_command": 1,
    "setpoint_float": 42.5,
    "setpoint_normalized": -0.5,
    "command_unknown_ioa": 1,
}
# What the general interrogation must return, as the server was configured
# (double point ON = DPI 2).
INTERROGATED = {"100": 1, "101": 2, "110": 0.25, "111": -1234, "112": 12.5}


def client_script(c104, host: str, port: int, wire: Wire) -> list[str]:
    """Runs the operations; returns the names of the requests, in order."""
    client = c104.Client(tick_rate_ms=50, command_timeout_ms=3000)
    con = client.add_connection(ip=host, port=port, init=c104.Init.MUTED)

    def rx(connection: c104.Connection, data: bytes) -> None:
        wire.add("received", data)

    def tx(connection: c104.Connection, data: bytes) -> None:
        wire.add("sent", data)

    con.on_receive_raw(callable=rx)
    con.on_send_raw(callable=tx)
    st = con.add_station(common_address=CA)
    single = st.add_point(io_address=SINGLE_CMD, type=c104.Type.C_SC_NA_1,
                          command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
    double = st.add_point(io_address=DOUBLE_CMD, type=c104.Type.C_DC_NA_1)
    set_nc = st.add_point(io_address=SETPOINT_NC, type=c104.Type.C_SE_NC_1)
    set_na = st.add_point(io_address=SETPOINT_NA, type=c104.Type.C_SE_NA_1)
    unknown = st.add_point(io_address=UNKNOWN_IOA, type=c104.Type.C_SC_NA_1)
    scaled = st.add_point(io_address=111, type=c104.Type.M_ME_NB_1)
    client.start()
    wait_for(lambda: con.is_connected, "the TCP connection")

    names: list[str] = []

    def settle():
        time.sleep(0.25)

    def must(ok: bool, what: str) -> None:
        # c104 2.2.1 can miss the ACTCON it is waiting for when the reply
        # lands before its waiter is armed (the frame is on the wire, the
        # call still times out). That says nothing about our parser: the
        # run is repeated (exit 75), and fails after STACK_ATTEMPTS.
        if not ok:
            raise PeerRace(f"{what}: the c104 client reports failure (its known lost-confirmation race)")

    must(con.unmute(), "STARTDT")
    settle()
    names.append("general_interrogation")
    must(con.interrogation(common_address=CA), "general interrogation")
    settle()
    names.append("counter_interrogation")
    must(con.counter_interrogation(common_address=CA), "counter interrogation")
    settle()
    names.append("read_scaled")
    must(scaled.read(), "read command")
    settle()
    # Cyclic and spontaneous data arrive while the client waits, and the
    # server tests the silent client (t3 = 2 s).
    time.sleep(3.2)
    single.value = True
    names += ["single_command_select", "single_command_execute"]
    must(single.transmit(cause=c104.Cot.ACTIVATION), "single command")
    settle()
    double.value = c104.Double.OFF
    names.append("double_command")
    must(double.transmit(cause=c104.Cot.ACTIVATION), "double command")
    settle()
    set_nc.value = 42.5
    names.append("setpoint_float")
    must(set_nc.transmit(cause=c104.Cot.ACTIVATION), "set-point (float)")
    settle()
    set_na.value = c104.NormalizedFloat(-0.5)
    names.append("setpoint_normalized")
    must(set_na.transmit(cause=c104.Cot.ACTIVATION), "set-point (normalised)")
    settle()
    unknown.value = True
    names.append("command_unknown_ioa")
    # The server answers with a negative mirror: the client says "failed".
    unknown.transmit(cause=c104.Cot.ACTIVATION)
    settle()
    names.append("clock_sync")
    must(con.clock_sync(common_address=CA), "clock synchronisation")
    settle()
    names.append("test_command")
    must(con.test(common_address=CA, with_time=True), "test command")
    settle()
    must(con.mute(), "STOPDT")
    settle()
    client.stop()
    return names


def build_truth(frames: list[dict], names: list[str]) -> dict:
    """Groups the client's frames into transactions."""
    ops: list[dict] = []
    pending_u: dict[tuple[str, str], dict] = {}
    open_requests: list[dict] = []
    name_iter = iter(names)
    control = set(range(45, 52)) | set(range(58, 65)) | set(range(100, 108)) | set(range(110, 114))
    for f in frames:
        if f["format"] == "U":
            proc, kind = f["function"].rsplit("_", 1)
            if kind == "act":
                op = {"kind": "u", "function": proc, "act_by": f["dir"], "con": False}
                pending_u[(proc, f["dir"])] = op
                ops.append(op)
            else:
                other = "sent" if f["dir"] == "received" else "received"
                op = pending_u.pop((proc, other), None)
                if op is None:
                    fail(f"{proc} confirmation without activation")
                op["con"] = True
            continue
        if f["format"] != "I":
            continue
        key = (f["type_id"], f["common_address"], f["ioa"])
        if f["dir"] == "sent":
            if f["type_id"] in control and f["cause"] in (5, 6, 8):
                name = next(name_iter, "?")
                op = {"kind": "request", "name": name, "request": f,
                      "replies": [], "answer": None}
                if name in COMMAND_VALUES:
                    op["value"] = COMMAND_VALUES[name]
                ops.append(op)
                open_requests.append(op)
                continue
            fail(f"the client sent an unexpected ASDU: {f}")
        # Received.
        # A reply belongs to the latest request for the same object (this
        # script never has two requests for one object in flight).
        if f["cause"] in (7, 9, 10, 44, 45, 46, 47):
            for op in reversed(open_requests):
                r = op["request"]
                if (r["type_id"], r["common_address"], r["ioa"]) == key:
                    op["replies"].append(f)
                    break
            else:
                fail(f"a reply to no request: {f}")
            continue
        if f["cause"] == 5:
            for op in reversed(open_requests):
                r = op["request"]
                if r["type_id"] == 102 and (r["common_address"], r["ioa"]) == key[1:] \
                        and op["answer"] is None:
                    op["answer"] = f
                    break
            else:
                fail(f"read answer to no read command: {f}")
            continue
        ops.append({"kind": "data", "data": f})
    return {"operations": ops}


def free_port(host: str) -> int:
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) != 2:
        fail("usage: iec104_stack.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    c104 = import_c104()
    try:
        from importlib.metadata import version

        c104_version = version("c104")
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot tell the installed c104 version: {exc}")
    host = f"127.0.0.{random.randint(2, 250)}"
    port = free_port(host)
    pcap = os.path.join(out, "iec104.pcap")
    slog = open(os.path.join(out, "server.log"), "w")
    # A capture with dropped packets raises CaptureIncomplete (exit 75).
    with Capture(pcap, f"tcp port {port} and host {host}",
                 log=os.path.join(out, "tcpdump.log")):
        server = None
        try:
            server = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--serve", host, str(port)],
                stdout=subprocess.PIPE, stderr=slog, text=True,
            )
            line = server.stdout.readline()
            if line.strip() != "ready":
                fail(f"the c104 server did not start: {open(os.path.join(out, 'server.log')).read()}")
            time.sleep(0.2)
            wire = Wire(c104)
            names = client_script(c104, host, port, wire)
            time.sleep(0.3)
        finally:
            if server is not None:
                stop_process(server, signal.SIGTERM, timeout=5)
            # Give the last packets time to be written, then stop cleanly.
            time.sleep(0.3)
    frames = wire.snapshot()
    truth = build_truth(frames, names)
    truth.update(
        c104=c104_version,
        server={"ip": host, "port": port},
        common_address=CA,
        interrogated=INTERROGATED,
        frames=frames,
    )
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    run_main(main, "iec104_stack.py")
