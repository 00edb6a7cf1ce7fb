#!/usr/bin/env python3
"""Records an S7comm conversation between two real snap7 stacks.

Usage: python3 tests/stacks/s7comm_stack.py OUT_DIR

python-snap7 (pinned in tests/requirements.txt; its wheel bundles the
snap7 C library, client and server) runs a snap7 server with a data block,
inputs, outputs, merkers, timers and counters on TCP port 102 inside a
network namespace created for the run (so port 102 needs no special
handling and clashes with nothing), captures its loopback with tcpdump, and
runs a snap7 client through a scripted sequence: connection and setup,
reads and writes of every area, system status lists 0x0011 and 0x001C and
others, block list and block info, clock read and set, PLC stop, hot and
cold start, session password, memory compression and copy RAM to ROM, and
an upload the server refuses.

Writes into OUT_DIR:
  s7comm.pcap   the capture
  truth.json    what the client sent and received, operation by operation,
                as observed by the client (independent of PlantShield)
  server.log, client.log, tcpdump.log   diagnostics

Exits non-zero (with a message on stderr) when anything is missing or goes
wrong, so that the caller never mistakes a broken environment for a pass;
75 (EX_TEMPFAIL) when tcpdump dropped packets: run it again (capture.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from capture import Capture, find_program, run_main, stop_process

PORT = 102
HOST = "127.0.0.1"
RACK, SLOT = 0, 1
DB_NUMBER = 1
DB_SIZE = 64
PASSWORD = "Pl4ntSh1"


def fail(msg: str) -> None:
    print(f"s7comm_stack.py: {msg}", file=sys.stderr)
    sys.exit(1)


def obfuscated(password: str) -> bytes:
    """The 8 octets a PLC password travels as: padded with spaces, the
    first two octets XORed with 0x55, each further one with 0x55 and the
    octet two places before it (already obfuscated)."""
    p = bytearray(password.encode("ascii")[:8].ljust(8, b" "))
    out = bytearray(8)
    out[0] = p[0] ^ 0x55
    out[1] = p[1] ^ 0x55
    for i in range(2, 8):
        out[i] = p[i] ^ 0x55 ^ out[i - 2]
    return bytes(out)


# --------------------------------------------------------------------------
# Server (child process in the namespace: `s7comm_stack.py --serve LOG`)
# --------------------------------------------------------------------------


def serve(log: str) -> None:
    import ctypes

    import snap7
    from snap7.type import SrvArea

    srv = snap7.server.Server(log=False)
    areas = {}

    def area(kind, index, size, fill):
        buf = (ctypes.c_uint8 * size)()
        for i in range(size):
            buf[i] = fill(i) & 0xFF
        srv.register_area(kind, index, buf)
        areas[(kind, index)] = buf

    area(SrvArea.DB, DB_NUMBER, DB_SIZE, lambda i: i * 3 + 1)
    area(SrvArea.PE, 0, 32, lambda i: 0xA0 + i)
    area(SrvArea.PA, 0, 32, lambda i: 0x50 + i)
    area(SrvArea.MK, 0, 32, lambda i: 0x10 + i)
    area(SrvArea.TM, 0, 32, lambda i: i)
    area(SrvArea.CT, 0, 32, lambda i: 0x20 + i)
    srv.start_to(HOST, PORT)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(log, "a", encoding="utf-8") as f:
        f.write("serving\n")
    while not stop:
        time.sleep(0.05)
    srv.stop()
    srv.destroy()


# --------------------------------------------------------------------------
# Client (child process in the namespace: `s7comm_stack.py --client OUT`)
# --------------------------------------------------------------------------


def hexs(b) -> str:
    return bytes(b).hex()


def text(b) -> str:
    if isinstance(b, (bytes, bytearray)):
        b = bytes(b).split(b"\0", 1)[0]
        return b.decode("latin-1").rstrip(" ")
    return str(b)


class Recorder:
    def __init__(self, log):
        self.ops = []
        self.log = log

    def run(self, name: str, call, expect: dict, result=None):
        """Runs one client call; records the expectation and what the
        client observed. `result(value)` returns more observed fields."""
        op = {"name": name, **expect}
        try:
            value = call()
            op["status"] = "ok"
            if result is not None:
                op.update(result(value))
        except Exception as e:  # snap7 raises RuntimeError with the CPU's text
            op["status"] = "exception"
            op["error_text"] = str(e)
        self.log.write(f"{name}: {op}\n")
        self.log.flush()
        self.ops.append(op)


def client_script(out: str) -> list:
    import datetime

    import snap7
    from snap7.type import Areas, Block

    log = open(os.path.join(out, "client.log"), "w", encoding="utf-8")
    r = Recorder(log)
    c = snap7.client.Client()

    def connect():
        c.connect(HOST, RACK, SLOT, PORT)
        return c.get_pdu_length()

    # The COTP connection and setup communication come from one call; they
    # are two protocol transactions.
    connected = {}

    def do_connect():
        connected["pdu"] = connect()
        return connected["pdu"]

    r.run("cotp_connect", do_connect,
          {"function": "cotp_connect", "function_code": 0xE0, "operation": "session",
           "called_tsap": "0101", "rack": RACK, "slot": SLOT})
    r.ops.append({"name": "setup_communication", "function": "setup_communication",
                  "function_code": 0xF0, "operation": "session", "status": "ok",
                  "negotiated_pdu_length": connected.get("pdu")})

    def var(name, call, function, area, start, size, db=None, write=None, transport="byte",
            expect_value=None):
        exp = {"function": function, "function_code": 4 if function == "read_var" else 5,
               "operation": "read" if function == "read_var" else "write",
               "area": area, "start": start, "size": size, "transport_size_name": transport}
        if db is not None:
            exp["db_number"] = db
        if write is not None:
            exp["value"] = hexs(write)
        res = None
        if function == "read_var":
            def res(v):
                return {"value": hexs(v)}
        r.run(name, call, exp, res)

    var("db_read", lambda: c.db_read(DB_NUMBER, 2, 8), "read_var", "data_blocks", 2, 8, db=DB_NUMBER)
    data = bytearray(b"\xde\xad\xbe\xef")
    var("db_write", lambda: c.db_write(DB_NUMBER, 10, data), "write_var", "data_blocks", 10, 4,
        db=DB_NUMBER, write=data)
    var("db_read_back", lambda: c.db_read(DB_NUMBER, 10, 4), "read_var", "data_blocks", 10, 4,
        db=DB_NUMBER)
    var("read_inputs", lambda: c.eb_read(0, 4), "read_var", "inputs", 0, 4)
    var("read_outputs", lambda: c.ab_read(4, 2), "read_var", "outputs", 4, 2)
    var("read_merkers", lambda: c.mb_read(8, 3), "read_var", "flags", 8, 3)
    q = bytearray(b"\x0f")
    var("write_outputs", lambda: c.ab_write(1, q), "write_var", "outputs", 1, 1, write=q)
    m = bytearray(b"\x42\x43")
    var("write_merkers", lambda: c.mb_write(6, 2, m), "write_var", "flags", 6, 2, write=m)
    var("read_peripheral_inputs", lambda: c.read_area(Areas.PE, 0, 12, 2), "read_var", "inputs", 12, 2)
    var("read_timers", lambda: c.tm_read(0, 2), "read_var", "timers", 0, 2, transport="timer")
    var("read_counters", lambda: c.ct_read(3, 2), "read_var", "counters", 3, 2, transport="counter")

    def szl(name, call, szl_id, index, result):
        r.run(name, call, {"function": "read_szl", "function_code": 0x7401, "operation": "discovery",
                           "szl_id": szl_id, "szl_index": index}, result)

    szl("order_code", c.get_order_code, 0x0011, 0,
        lambda v: {"order_number": text(v.OrderCode), "version": f"V{v.V1}.{v.V2}.{v.V3}"})
    szl("cpu_info", c.get_cpu_info, 0x001C, 0,
        lambda v: {"component_identification": {
            "automation_system_name": text(v.ASName),
            "module_name": text(v.ModuleName),
            "copyright": text(v.Copyright),
            "serial_number": text(v.SerialNumber),
            "module_type_name": text(v.ModuleTypeName)}})
    szl("szl_list", c.read_szl_list, 0x0000, 0, lambda v: {"szl_record_count": len(v)})
    szl("cpu_state", c.get_cpu_state, 0x0424, 0, lambda v: {"cpu_state": v})
    szl("cp_info", c.get_cp_info, 0x0131, 1, lambda v: {"max_pdu_length": v.MaxPduLength})
    szl("protection", c.get_protection, 0x0232, 4, lambda v: {"protection": v.sch_rel})

    r.run("list_blocks", c.list_blocks,
          {"function": "list_blocks", "function_code": 0x7301, "operation": "discovery"},
          lambda v: {"block_counts": {"OB": v.OBCount, "FB": v.FBCount, "FC": v.FCCount,
                                      "SFB": v.SFBCount, "SFC": v.SFCCount, "DB": v.DBCount,
                                      "SDB": v.SDBCount}})

    def blocks_of_type():
        v = c.list_blocks_of_type(Block.DB, 16)
        return v

    r.run("list_blocks_of_type", blocks_of_type,
          {"function": "list_blocks_of_type", "function_code": 0x7302, "operation": "discovery",
           "block_type": "DB"},
          lambda v: {"block_numbers": [n for n in list(v) if n]})
    r.run("block_info", lambda: c.get_block_info(Block.DB, DB_NUMBER),
          {"function": "get_block_info", "function_code": 0x7303, "operation": "discovery",
           "block_type": "DB", "block_number": DB_NUMBER},
          lambda v: {"mc7_code_length": v.MC7Size, "block_info_number": v.BlkNumber})
    r.run("read_clock", c.get_plc_datetime,
          {"function": "read_clock", "function_code": 0x7701, "operation": "read"},
          lambda v: {"plc_time": v.strftime("%Y-%m-%dT%H:%M:%S")})
    when = datetime.datetime(2031, 7, 14, 9, 26, 53)
    r.run("set_clock", lambda: c.set_plc_datetime(when),
          {"function": "set_clock", "function_code": 0x7702, "operation": "configuration",
           "plc_time": when.strftime("%Y-%m-%dT%H:%M:%S")})
    r.run("plc_stop", c.plc_stop,
          {"function": "plc_stop", "function_code": 0x29, "operation": "mode_change",
           "pi_service": "P_PROGRAM"})
    szl("cpu_state_stopped", c.get_cpu_state, 0x0424, 0, lambda v: {"cpu_state": v})
    r.run("plc_hot_start", c.plc_hot_start,
          {"function": "pi_service", "function_code": 0x28, "operation": "mode_change",
           "pi_service": "P_PROGRAM"})
    r.run("plc_cold_start", c.plc_cold_start,
          {"function": "pi_service", "function_code": 0x28, "operation": "mode_change",
           "pi_service": "P_PROGRAM", "pi_argument": "C "})
    r.run("set_session_password", lambda: c.set_session_password(PASSWORD),
          {"function": "plc_password", "function_code": 0x7501, "operation": "session",
           "password_sent": True, "obfuscated_password": obfuscated(PASSWORD).hex()})
    r.run("clear_session_password", c.clear_session_password,
          {"function": "clear_password", "function_code": 0x7502, "operation": "session"})
    r.run("compress", lambda: c.compress(2000),
          {"function": "pi_service", "function_code": 0x28, "operation": "configuration",
           "pi_service": "_GARB"})
    r.run("copy_ram_to_rom", lambda: c.copy_ram_to_rom(2000),
          {"function": "pi_service", "function_code": 0x28, "operation": "configuration",
           "pi_service": "_MODU"})
    # The server refuses uploads (protection level): only the start of the
    # upload travels, and is answered with an error.
    r.run("upload_refused", lambda: c.upload(DB_NUMBER),
          {"function": "start_upload", "function_code": 0x1D, "operation": "program_upload",
           "block_type": "DB", "block_number": DB_NUMBER})
    c.disconnect()
    log.close()
    return r.ops


# --------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        fail(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def wait_for(path: str, what: str, proc: subprocess.Popen, log: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"{what} exited ({proc.returncode}):\n"
                 + open(log, encoding="utf-8", errors="replace").read()[-2000:])
        if os.path.exists(path) and "serving" in open(path).read():
            return
        time.sleep(0.05)
    fail(f"{what} did not start within {timeout} s")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        ops = client_script(sys.argv[2])
        with open(os.path.join(sys.argv[2], "ops.json"), "w", encoding="utf-8") as f:
            json.dump(ops, f)
        return
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        import snap7
        from snap7.common import load_library
        load_library()
    except Exception as e:  # ImportError, or the bundled library missing
        fail(f"python-snap7 with its bundled snap7 library is not usable ({e}); "
             "pip install -r tests/requirements.txt")
    from importlib.metadata import version

    if find_program("tcpdump") is None:
        fail("tcpdump is not installed (run .ci/install)")
    ip = find_program("ip")
    if ip is None:
        fail("ip (iproute2) is not installed (run .ci/install)")

    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    pcap = os.path.join(out, "s7comm.pcap")
    for f in ("s7comm.pcap", "ops.json", "server.log"):
        if os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))
    ns = f"plantshield-s7-{os.getpid()}"
    sh(ip, "netns", "add", ns)
    server = None
    try:
        sh(ip, "netns", "exec", ns, ip, "link", "set", "lo", "up")
        server_log = os.path.join(out, "server.log")
        open(server_log, "w").close()
        server = subprocess.Popen(
            [ip, "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "--serve", server_log],
            stdout=open(os.path.join(out, "server.out"), "w"), stderr=subprocess.STDOUT)
        wait_for(server_log, "server", server, os.path.join(out, "server.out"))
        # The namespace's loopback; a capture with dropped packets raises
        # CaptureIncomplete (exit 75).
        with Capture(pcap, f"tcp port {PORT}", netns=ns, log=os.path.join(out, "tcpdump.log")):
            client = subprocess.run(
                [ip, "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "--client", out],
                capture_output=True, text=True, timeout=60)
            if client.returncode != 0:
                fail(f"the snap7 client failed ({client.returncode}):\n{client.stdout}{client.stderr}")
            time.sleep(0.5)  # let the FIN exchange reach the capture
    finally:
        if server is not None:
            stop_process(server, signal.SIGTERM)
        sh(ip, "netns", "delete", ns, check=False)

    ops = json.load(open(os.path.join(out, "ops.json"), encoding="utf-8"))
    truth = {
        "python_snap7": version("python-snap7"),
        "server": {"ip": HOST, "port": PORT},
        "rack": RACK,
        "slot": SLOT,
        "operations": ops,
    }
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    print(f"s7comm_stack.py: {len(ops)} operations, python-snap7 {truth['python_snap7']}, "
          f"capture {os.path.getsize(pcap)} bytes")


if __name__ == "__main__":
    run_main(main, "s7comm_stack.py")
