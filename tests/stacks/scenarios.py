#!/usr/bin/env python3
"""Records attack scenarios on a small plant of real protocol stacks.

Usage: python3 tests/stacks/scenarios.py OUT_DIR

The plant: every host in its own network namespace with its own MAC
address, joined by veth pairs to a Linux bridge in a "switch" namespace
where tcpdump records the bridge (namespace names are unique to the run and
are removed on exit, even on failure):

  plc    10.10.0.11  pymodbus server (Modbus/TCP 502) serving unit ids 1 and 2:
                     holding and input registers, coils, discrete inputs
  s7plc  10.10.0.12  python-snap7 server (S7comm, ISO-TSAP 102) with DB1
  hmi    10.10.0.20  HMI: a pymodbus client polling reads of both units and
                     writing the set point (unit 1 holding registers 10-11,
                     function 16), a snap7 client reading DB1
  ews    10.10.0.30  engineering workstation: reads device identification,
                     writes tuning parameters (unit 1 registers 0-3, unit 2
                     register 0), reads the S7 CPU identification, reads and
                     writes DB1 (the allowed writes)
  rogue  10.10.0.66  a device that appears in the new_device scenario only

Phases, each its own capture in OUT_DIR:

  benign.pcap              normal operation, BENIGN_SECONDS
  unauthorised_write.pcap  a short stretch of the same benign traffic PLUS
  program_download.pcap    the attack, one capture per scenario (the attacks
  scan.pcap                are described in ATTACKS below)
  write_flood.pcap
  new_device.pcap
  s7_stop.pcap             (last: the snap7 CPU stays in STOP)

and truth.json: the hosts (name, IP, MAC) and, per phase, what each client
did and saw (times are the clients' wall clock, as in the captures),
independent of PlantShield. server.log, *.log: diagnostics.

Exits non-zero with a message on stderr when anything is missing or goes
wrong (tcpdump, ip, pymodbus, python-snap7, root), so that the caller never
mistakes a broken environment for a pass; 75 (EX_TEMPFAIL) when tcpdump
dropped packets or a benign client's request timed out on a loaded
machine: run it again (capture.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

from capture import Capture, PeerRace, find_program, run_main, stop_process

PROG = "scenarios.py"

# name: (IPv4, MAC)
HOSTS = {
    "plc": ("10.10.0.11", "02:50:0a:0a:00:0b"),
    "s7plc": ("10.10.0.12", "02:50:0a:0a:00:0c"),
    "hmi": ("10.10.0.20", "02:50:0a:0a:00:14"),
    "ews": ("10.10.0.30", "02:50:0a:0a:00:1e"),
    "rogue": ("10.10.0.66", "02:50:0a:0a:00:42"),
}
PLANT = ["plc", "s7plc", "hmi", "ews"]
ROLES = {
    "plc": "Modbus PLC (pymodbus server)",
    "s7plc": "S7 PLC (python-snap7 server)",
    "hmi": "HMI (pymodbus and snap7 clients)",
    "ews": "engineering workstation (pymodbus and snap7 clients)",
    "rogue": "a new device (pymodbus client)",
}
MODBUS_PORT = 502
S7_PORT = 102
UNITS = (1, 2)
DB = 1
DB_SIZE = 64

BENIGN_SECONDS = 20.0
ATTACK_PHASE_SECONDS = 4.0
ATTACK_AT = 1.8  # seconds into an attack phase

# The HMI's normal work.
POLL_PERIOD = 0.25
SETPOINT_EVERY = 8  # polling cycles (2 s)
SETPOINT_ADDRESS = 10  # unit 1 holding registers 10-11: set point and ramp
S7_PERIOD = 0.5

# The attacks: phase -> (attacker host, target host). Order of recording.
ATTACKS = {
    "unauthorised_write": ("hmi", "plc"),
    "program_download": ("hmi", "s7plc"),
    "scan": ("hmi", "plc"),
    "write_flood": ("hmi", "plc"),
    "new_device": ("rogue", "plc"),
    "s7_stop": ("hmi", "s7plc"),
}
# unauthorised_write: the trip limits a compromised HMI raises (unit 1
# holding registers 40-41, function 16, the HMI's own write function) and
# the low-level alarm it disables (register 44).
TRIP_WRITES = [(40, [9999, 9999]), (44, [0])]
FLOOD_WRITES = 400
SCAN_UNITS = range(1, 33)
# Function codes probed on unit 1 after the unit sweep, with a well-formed
# request each: supported ones the HMI never uses, then unsupported ones.
SCAN_FUNCTIONS = [
    (7, b""),
    (8, b"\x00\x00\xa5\x5a"),
    (11, b""),
    (12, b""),
    (17, b""),
    (43, b"\x0e\x01\x00"),
    (9, b"\x00\x00\x00\x01"),
    (10, b"\x00\x00\x00\x01"),
    (13, b"\x00\x00\x00\x01"),
    (14, b"\x00\x00\x00\x01"),
    (18, b"\x00\x00\x00\x01"),
    (19, b"\x00\x00\x00\x01"),
    (25, b"\x00\x00\x00\x01"),
    (26, b"\x00\x00\x00\x01"),
    (41, b"\x00\x00\x00\x01"),
    (42, b"\x00\x00\x00\x01"),
    (65, b"\x00\x00\x00\x01"),
    (90, b"\x00\x00\x00\x01"),
    (100, b"\x00\x00\x00\x01"),
    (125, b"\x00\x00\x00\x01"),
    (127, b"\x00\x00\x00\x01"),
]
# program_download: OB1 (block type 0x08), as a whole MC7 block (header
# with its load memory length) the way snap7's client wants it.
DOWNLOAD_BLOCK = 1


def fail(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def write_json(path: str, data) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def quiet_pymodbus(log: str | None = None) -> None:
    """pymodbus logs every exception response as an error: to a file."""
    import logging

    lg = logging.getLogger("pymodbus.logging")
    lg.propagate = False
    lg.addHandler(logging.FileHandler(log) if log else logging.NullHandler())


# --------------------------------------------------------------------------
# Servers (run in their namespaces)
# --------------------------------------------------------------------------


def serve_plc() -> None:
    import asyncio
    import math

    from pymodbus.datastore import (
        ModbusSequentialDataBlock,
        ModbusServerContext,
        ModbusSlaveContext,
    )
    from pymodbus.server import StartAsyncTcpServer

    quiet_pymodbus()

    def unit(n: int) -> ModbusSlaveContext:
        # pymodbus maps protocol address a to block address a + 1.
        hr = [120, 30, 5, 10] + [0] * 6 + [500, 20] + [0] * 88
        hr[40:42] = [800, 50]  # trip limit and hysteresis
        hr[44] = 1  # low-level alarm enabled
        return ModbusSlaveContext(
            co=ModbusSequentialDataBlock(1, [1, 0, 1, 0, 0, 0, 0, 0] + [0] * 92),
            di=ModbusSequentialDataBlock(1, [0] * 100),
            hr=ModbusSequentialDataBlock(1, hr if n == 1 else [0] * 100),
            ir=ModbusSequentialDataBlock(1, [0] * 100),
        )

    slaves = {u: unit(u) for u in UNITS}
    context = ModbusServerContext(slaves=slaves, single=False)

    async def process() -> None:
        """Process values follow the set point (input registers 0-7)."""
        t0 = time.monotonic()
        pv = 480.0
        while True:
            sp = slaves[1].getValues(3, SETPOINT_ADDRESS, 1)[0]
            pv += 0.1 * (sp - pv)
            t = time.monotonic() - t0
            ir = [round(pv), round(300 + 20 * math.sin(t / 4)), 87, 1, 0, 0, 0, 0]
            for s in slaves.values():
                s.setValues(4, 0, ir)
            await asyncio.sleep(0.1)

    async def main() -> None:
        asyncio.get_running_loop().create_task(process())
        await StartAsyncTcpServer(context=context, address=(HOSTS["plc"][0], MODBUS_PORT))

    asyncio.run(main())


def serve_s7(log: str) -> None:
    import ctypes

    import snap7
    from snap7.type import SrvArea

    srv = snap7.server.Server(log=False)
    db = (ctypes.c_uint8 * DB_SIZE)()
    for i in range(DB_SIZE):
        db[i] = (i * 7 + 3) & 0xFF
    srv.register_area(SrvArea.DB, DB, db)
    mk = (ctypes.c_uint8 * 32)()
    srv.register_area(SrvArea.MK, 0, mk)
    srv.start_to(HOSTS["s7plc"][0], S7_PORT)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(log, "a", encoding="utf-8") as f:
        f.write("serving\n")
        f.flush()
        while not stop:
            while (ev := srv.pick_event()) is not None:
                f.write(f"{srv.event_text(ev)}\n")
            f.flush()
            time.sleep(0.05)
    srv.stop()
    srv.destroy()


def wait_serving(targets: list[str]) -> None:
    deadline = time.monotonic() + 20
    for t in targets:
        host, port = t.rsplit(":", 1)
        while True:
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    fail(f"{t} does not accept connections")
                time.sleep(0.1)


# --------------------------------------------------------------------------
# Benign clients (run in their namespaces for one phase)
# --------------------------------------------------------------------------


class Timeout(Exception):
    """A benign request got no answer in time (a loaded machine)."""


def modbus_client(host: str):
    from pymodbus.client import ModbusTcpClient

    # retries=0: every call is exactly one request on the wire.
    c = ModbusTcpClient(HOSTS[host][0], port=MODBUS_PORT, timeout=3, retries=0)
    if not c.connect():
        fail(f"cannot connect to {host}")
    return c


def checked(rr, what: str):
    """The response, or Timeout when pymodbus got none; a Modbus exception
    in benign traffic is a broken script."""
    from pymodbus.exceptions import ModbusException

    if isinstance(rr, ModbusException):
        raise Timeout(f"{what}: {rr}")
    if rr.isError():
        fail(f"{what}: exception {rr.exception_code}")
    return rr


def call(what: str, fn):
    from pymodbus.exceptions import ModbusException

    try:
        return checked(fn(), what)
    except ModbusException as e:
        raise Timeout(f"{what}: {e}") from e


def benign_hmi(seconds: float, out: str) -> None:
    import threading

    import snap7

    quiet_pymodbus()
    stop_at = time.monotonic() + seconds
    result = {"host": "hmi", "modbus_reads": 0, "setpoint_writes": [], "s7_reads": 0}
    errors: list[BaseException] = []

    def modbus() -> None:
        c = modbus_client("plc")
        n = 0
        nxt = time.monotonic()
        sp = 500
        while time.monotonic() < stop_at:
            call("read set points", lambda: c.read_holding_registers(0, count=12, slave=1))
            call("read process values", lambda: c.read_input_registers(0, count=8, slave=1))
            call("read pump coils", lambda: c.read_coils(0, count=8, slave=1))
            result["modbus_reads"] += 3
            if n % 4 == 2:
                call("read unit 2", lambda: c.read_holding_registers(0, count=4, slave=2))
                result["modbus_reads"] += 1
            if n % SETPOINT_EVERY == SETPOINT_EVERY // 2:
                sp = 500 + (sp + 7 - 500) % 20
                vals = [sp, 20]
                call("write set point",
                     lambda: c.write_registers(SETPOINT_ADDRESS, vals, slave=1))
                result["setpoint_writes"].append(
                    {"t": time.time(), "unit": 1, "function_code": 16,
                     "address": SETPOINT_ADDRESS, "values": vals})
            n += 1
            nxt += POLL_PERIOD
            time.sleep(max(0.0, nxt - time.monotonic()))
        c.close()

    def s7() -> None:
        c = snap7.client.Client()
        c.connect(HOSTS["s7plc"][0], 0, 1, S7_PORT)
        nxt = time.monotonic() + 0.1
        while time.monotonic() < stop_at:
            time.sleep(max(0.0, nxt - time.monotonic()))
            c.db_read(DB, 0, 32)
            result["s7_reads"] += 1
            nxt += S7_PERIOD
        c.disconnect()

    def run(fn):
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(f,)) for f in (modbus, s7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if isinstance(e, Timeout):
            raise PeerRace(f"the HMI's request timed out (a loaded machine): {e}")
        if isinstance(e, SystemExit):
            raise e
        fail(f"the HMI failed: {e!r}")
    write_json(out, result)


def benign_ews(seconds: float, out: str) -> None:
    """The engineering workstation's sessions, at the same fractions of
    every phase: identification, tuning writes, the S7 CPU and DB1."""
    import snap7
    from pymodbus.constants import DeviceInformation

    quiet_pymodbus()
    t0 = time.monotonic()
    actions: list[dict] = []

    def at(frac: float) -> None:
        time.sleep(max(0.0, t0 + frac * seconds - time.monotonic()))

    def did(what: str, **kw) -> None:
        actions.append({"t": time.time(), "what": what, **kw})

    at(0.15)
    c = modbus_client("plc")
    call("read device identification",
         lambda: c.read_device_information(read_code=DeviceInformation.BASIC, slave=1))
    did("read device identification", function_code=43, unit=1)
    call("read tuning", lambda: c.read_holding_registers(0, count=4, slave=1))
    did("read tuning", function_code=3, unit=1, address=0, quantity=4)
    c.close()
    at(0.4)
    c = modbus_client("plc")
    tuning = [118, 32, 5, 10]
    call("write tuning", lambda: c.write_registers(0, tuning, slave=1))
    did("write tuning", function_code=16, unit=1, address=0, values=tuning)
    call("write unit 2 mode", lambda: c.write_register(0, 3, slave=2))
    did("write unit 2 mode", function_code=6, unit=2, address=0, values=[3])
    c.close()
    at(0.6)
    s = snap7.client.Client()
    s.connect(HOSTS["s7plc"][0], 0, 1, S7_PORT)
    info = s.get_cpu_info()
    did("read CPU identification (SZL 0x001C)", module=info.ModuleTypeName.decode(errors="replace"))
    s.db_read(DB, 32, 8)
    did("read DB1", db=DB, start=32, size=8)
    data = bytearray(b"\x00\x64\x01\x2c")
    s.db_write(DB, 40, data)
    did("write DB1", db=DB, start=40, values=data.hex())
    s.disconnect()
    write_json(out, {"host": "ews", "actions": actions})


# --------------------------------------------------------------------------
# Attacks (each run in the attacker's namespace, during its phase)
# --------------------------------------------------------------------------


def attack_unauthorised_write() -> dict:
    """A compromised HMI raises the trip limits and disables a low-level
    alarm: function 16, the one it uses for its set point, at addresses it
    never wrote."""
    quiet_pymodbus()
    c = modbus_client("plc")
    writes = []
    for address, values in TRIP_WRITES:
        rr = call("write", lambda a=address, v=values: c.write_registers(a, v, slave=1))
        writes.append({"t": time.time(), "unit": 1, "function_code": 16, "address": address,
                       "values": values, "status": "exception" if rr.isError() else "ok"})
    c.close()
    return {"writes": writes}


def attack_write_flood() -> dict:
    """The HMI's set point, written as fast as the PLC answers."""
    quiet_pymodbus()
    c = modbus_client("plc")
    start = time.time()
    ok = 0
    for i in range(FLOOD_WRITES):
        vals = [400 + i % 200, 20]
        rr = call("flood write", lambda: c.write_registers(SETPOINT_ADDRESS, vals, slave=1))
        ok += not rr.isError()
    end = time.time()
    c.close()
    return {"writes": FLOOD_WRITES, "answered_ok": ok, "unit": 1, "function_code": 16,
            "address": SETPOINT_ADDRESS, "first": start, "last": end}


def recv_exact(s: socket.socket, n: int) -> bytes:
    b = b""
    while len(b) < n:
        part = s.recv(n - len(b))
        if not part:
            raise ConnectionError("closed")
        b += part
    return b


def attack_scan() -> dict:
    """A scanner on the compromised HMI (raw Modbus/TCP, as scanners are):
    unit ids, then function codes of unit 1. Every probe waits for its
    answer (or 1 s)."""
    s = socket.create_connection((HOSTS["plc"][0], MODBUS_PORT), timeout=1)
    probes = []
    tid = 0

    def probe(unit: int, fc: int, data: bytes, kind: str) -> None:
        nonlocal tid
        tid += 1
        pdu = bytes([fc]) + data
        s.sendall(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)
        p = {"t": time.time(), "kind": kind, "transaction_id": tid, "unit": unit,
             "function_code": fc}
        try:
            head = recv_exact(s, 7)
            rtid, _, length, runit = struct.unpack(">HHHB", head)
            body = recv_exact(s, length - 1)
            p.update(response_transaction_id=rtid, response_unit=runit,
                     response_function_code=body[0])
            if body[0] & 0x80:
                p["exception_code"] = body[1] if len(body) > 1 else None
        except socket.timeout:
            p["response"] = "none"
        probes.append(p)

    for u in SCAN_UNITS:
        probe(u, 3, b"\x00\x00\x00\x01", "unit")
    for fc, data in SCAN_FUNCTIONS:
        probe(1, fc, data, "function")
    s.close()
    return {"probes": probes}


def attack_new_device() -> dict:
    """A laptop plugged into the control network reads the PLC."""
    quiet_pymodbus()
    c = modbus_client("plc")
    reads = []
    for _ in range(3):
        call("read", lambda: c.read_holding_registers(0, count=12, slave=1))
        reads.append({"t": time.time(), "unit": 1, "function_code": 3, "address": 0,
                      "quantity": 12})
        time.sleep(0.3)
    c.close()
    return {"reads": reads}


def s7_client():
    import snap7

    c = snap7.client.Client()
    c.connect(HOSTS["s7plc"][0], 0, 1, S7_PORT)
    return c


def attack_s7_stop() -> dict:
    """The compromised HMI stops the S7 CPU (PI service P_PROGRAM, STOP)."""
    c = s7_client()
    t = time.time()
    rc = c.plc_stop()  # 0: the CPU accepted it
    c.disconnect()
    return {"stop": {"t": t, "function_code": 0x29, "return_code": rc,
                     "status": "ok" if rc == 0 else "error"}}


def attack_program_download() -> dict:
    """The compromised HMI downloads an OB1 to the S7 PLC; the snap7 server
    refuses the request download (protection level), the request is on the
    wire."""
    block = bytearray(120)
    block[0:2] = b"pp"  # 0x7070: MC7 block marker
    block[2], block[3], block[4] = 1, 1, 1  # version, attributes, language
    block[5] = 0x08  # OB
    struct.pack_into(">H", block, 6, DOWNLOAD_BLOCK)
    struct.pack_into(">I", block, 8, len(block))  # length in load memory
    c = s7_client()
    t = time.time()
    try:
        rc = c.download(block, DOWNLOAD_BLOCK)
        status, error = ("ok" if rc == 0 else "error"), rc
    except RuntimeError as e:
        status, error = "refused", str(e)
    c.disconnect()
    return {"download": {"t": t, "block_type": "OB", "block_number": DOWNLOAD_BLOCK,
                         "bytes": len(block), "status": status, "error": error}}


def attack(name: str, out: str) -> None:
    fn = {
        "unauthorised_write": attack_unauthorised_write,
        "program_download": attack_program_download,
        "scan": attack_scan,
        "write_flood": attack_write_flood,
        "new_device": attack_new_device,
        "s7_stop": attack_s7_stop,
    }[name]
    start = time.time()
    try:
        result = fn()
    except Timeout as e:
        raise PeerRace(f"{name}: a request timed out (a loaded machine): {e}") from e
    write_json(out, {"start": start, "end": time.time(), **result})


# --------------------------------------------------------------------------
# The plant: namespaces, bridge, processes
# --------------------------------------------------------------------------


def tx_checksum_off(iface: str) -> None:
    """Checksums in software on IFACE (as `ethtool -K IFACE tx off`): veth
    frames are otherwise captured with partial checksums."""
    import array
    import fcntl

    siocethtool, ethtool_stxcsum = 0x8946, 0x17
    cmd = array.array("B", struct.pack("II", ethtool_stxcsum, 0))
    ifreq = struct.pack("16sP", iface.encode(), cmd.buffer_info()[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), siocethtool, ifreq)


class Plant:
    def __init__(self, out: str):
        self.out = out
        self.ip = find_program("ip")
        self.tag = f"pss{os.getpid()}"
        self.sw = f"{self.tag}-sw"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def sh(self, *args: str) -> None:
        p = subprocess.run([self.ip, *args], capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"ip {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")

    def exec_args(self, host: str, *args: str) -> list[str]:
        ns = self.sw if host == "sw" else self.ns(host)
        return [self.ip, "netns", "exec", ns, *args]

    def me(self, host: str, *args: str) -> list[str]:
        return self.exec_args(host, sys.executable, os.path.abspath(__file__), *args)

    def add_ns(self, ns: str) -> None:
        self.sh("netns", "add", ns)
        self.namespaces.append(ns)
        # No IPv6 chatter (router solicitations, MLD) in the captures.
        p = subprocess.run([self.ip, "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"sysctl in {ns}: {p.stderr.strip()}")

    def switch(self) -> None:
        self.add_ns(self.sw)
        self.sh("-n", self.sw, "link", "add", "br0", "type", "bridge",
                "stp_state", "0", "forward_delay", "0")
        self.sh("-n", self.sw, "link", "set", "lo", "up")
        self.sh("-n", self.sw, "link", "set", "br0", "up")

    def add_host(self, host: str) -> None:
        ip, mac = HOSTS[host]
        ns = self.ns(host)
        self.add_ns(ns)
        self.sh("link", "add", "eth0", "netns", ns, "address", mac, "type", "veth",
                "peer", "name", host, "netns", self.sw)
        self.sh("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        self.sh("-n", ns, "link", "set", "lo", "up")
        self.sh("-n", ns, "link", "set", "eth0", "up")
        p = subprocess.run(self.me(host, "--role", "csum", "eth0"), capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"checksum offload off in {host}: {p.stderr.strip()}")
        self.sh("-n", self.sw, "link", "set", host, "master", "br0")
        self.sh("-n", self.sw, "link", "set", host, "up")

    def spawn(self, host: str, log: str, *args: str) -> subprocess.Popen:
        with open(os.path.join(self.out, log), "w", encoding="utf-8") as f:
            p = subprocess.Popen(self.me(host, *args), stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def run(self, host: str, log: str, timeout: float, *args: str) -> None:
        p = self.spawn(host, log, *args)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(p, signal.SIGTERM)
            fail(f"{' '.join(args)} on {host} did not finish within {timeout:g} s")
        self.check(p, host, log, " ".join(args))

    def check(self, p: subprocess.Popen, host: str, log: str, what: str) -> None:
        text = open(os.path.join(self.out, log), encoding="utf-8", errors="replace").read()
        if p.returncode == 75:
            raise PeerRace(f"{what} on {host}: {text.strip().splitlines()[-1:]}")
        if p.returncode != 0:
            fail(f"{what} on {host} failed ({p.returncode}):\n{text[-3000:]}")

    def close(self) -> None:
        for p in self.procs:
            stop_process(p, signal.SIGTERM, timeout=5)
        for ns in reversed(self.namespaces):
            # Whatever this run started inside and is still running.
            pids = subprocess.run([self.ip, "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            subprocess.run([self.ip, "netns", "delete", ns], capture_output=True)


def record_phase(plant: Plant, out: str, name: str, seconds: float, attack_name: str | None,
                 truth: dict) -> None:
    pcap = os.path.join(out, f"{name}.pcap")
    tlog = os.path.join(out, "tcpdump.log")
    hmi_json = os.path.join(out, f"{name}.hmi.json")
    ews_json = os.path.join(out, f"{name}.ews.json")
    attack_json = os.path.join(out, f"{name}.attack.json")
    phase: dict = {"pcap": f"{name}.pcap"}
    with Capture(pcap, "arp or ip", interface="br0", netns=plant.sw, log=tlog):
        phase["start"] = time.time()
        hmi = plant.spawn("hmi", f"{name}.hmi.log", "--role", "benign-hmi", str(seconds), hmi_json)
        ews = plant.spawn("ews", f"{name}.ews.log", "--role", "benign-ews", str(seconds), ews_json)
        if attack_name is not None:
            attacker, target = ATTACKS[attack_name]
            time.sleep(max(0.0, phase["start"] + ATTACK_AT - time.time()))
            if attacker not in PLANT:
                plant.add_host(attacker)  # the new device is plugged in now
            plant.run(attacker, f"{name}.attack.log", 30, "--role", "attack", attack_name,
                      attack_json)
        for p, host, log in ((hmi, "hmi", f"{name}.hmi.log"), (ews, "ews", f"{name}.ews.log")):
            try:
                p.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                fail(f"the {host} did not finish phase {name}")
            plant.check(p, host, log, f"benign traffic of {name}")
        time.sleep(0.5)  # let the FIN exchanges reach the capture
        phase["end"] = time.time()
    os.replace(tlog, os.path.join(out, f"tcpdump-{name}.log"))
    # Capture.check() passed: nothing dropped. Keep the statistics too.
    phase["benign"] = {"hmi": json.load(open(hmi_json)), "ews": json.load(open(ews_json))}
    if attack_name is not None:
        attacker, target = ATTACKS[attack_name]
        phase["attacker"] = attacker
        phase["target"] = target
        phase["attack"] = json.load(open(attack_json))
    for f in (hmi_json, ews_json, attack_json):
        if os.path.exists(f):
            os.remove(f)
    truth["phases"][name] = phase


def orchestrate(out: str) -> None:
    try:
        import pymodbus
        import snap7
        from snap7.common import load_library

        load_library()
    except Exception as e:  # ImportError, or snap7's bundled library missing
        fail(f"pymodbus and python-snap7 are needed ({e}); pip install -r tests/requirements.txt")
    from importlib.metadata import version

    if os.geteuid() != 0:
        fail("must run as root (network namespaces, tcpdump)")
    if find_program("tcpdump") is None:
        fail("tcpdump is not installed (run .ci/install)")
    if find_program("ip") is None:
        fail("ip (iproute2) is not installed (run .ci/install)")

    os.makedirs(out, exist_ok=True)
    truth: dict = {
        "pymodbus": pymodbus.__version__,
        "python_snap7": version("python-snap7"),
        "hosts": {h: {"ip": ip, "mac": mac, "role": ROLES[h]} for h, (ip, mac) in HOSTS.items()},
        "plant": PLANT,
        "units": list(UNITS),
        "setpoint": {"unit": 1, "function_code": 16,
                     "addresses": [SETPOINT_ADDRESS, SETPOINT_ADDRESS + 1]},
        "phases": {},
    }
    plant = Plant(out)
    # SIGTERM (a killed test) still removes the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        plant.switch()
        for h in PLANT:
            plant.add_host(h)
        plant.spawn("plc", "plc.log", "--role", "plc")
        s7log = os.path.join(out, "server.log")
        open(s7log, "w").close()
        plant.spawn("s7plc", "s7plc.log", "--role", "s7plc", s7log)
        plant.run("hmi", "wait.log", 30, "--role", "wait",
                  f"{HOSTS['plc'][0]}:{MODBUS_PORT}", f"{HOSTS['s7plc'][0]}:{S7_PORT}")
        time.sleep(0.5)
        record_phase(plant, out, "benign", BENIGN_SECONDS, None, truth)
        for name in ATTACKS:
            record_phase(plant, out, name, ATTACK_PHASE_SECONDS, name, truth)
    finally:
        plant.close()
    write_json(os.path.join(out, "truth.json"), truth)
    sizes = ", ".join(f"{n} {os.path.getsize(os.path.join(out, p['pcap']))} B"
                      for n, p in truth["phases"].items())
    print(f"{PROG}: pymodbus {truth['pymodbus']}, python-snap7 {truth['python_snap7']}; {sizes}")


def main() -> None:
    a = sys.argv[1:]
    if a[:1] == ["--role"]:
        role, rest = a[1], a[2:]
        if role == "plc":
            serve_plc()
        elif role == "s7plc":
            serve_s7(rest[0])
        elif role == "wait":
            wait_serving(rest)
        elif role == "csum":
            tx_checksum_off(rest[0])
        elif role == "benign-hmi":
            benign_hmi(float(rest[0]), rest[1])
        elif role == "benign-ews":
            benign_ews(float(rest[0]), rest[1])
        elif role == "attack":
            attack(rest[0], rest[1])
        else:
            fail(f"unknown role {role}")
        return
    if len(a) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    orchestrate(os.path.abspath(a[0]))


if __name__ == "__main__":
    run_main(main, PROG)
