#!/usr/bin/env python3
"""Records a Modbus/TCP conversation between two real pymodbus stacks.

Usage: python3 tests/stacks/modbus_stack.py OUT_DIR

Starts a pymodbus TCP server (coils, discrete inputs, holding and input
registers, device identification) on 127.0.0.x and a free port chosen at run
time, captures the loopback traffic with tcpdump, and runs a pymodbus client
through a scripted sequence covering every function code the client can
send, plus deliberate exceptions.

Writes into OUT_DIR:
  modbus.pcap   the capture
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

UNIT = 1

# Datastore contents (protocol address 0 is the first value of each list).
COILS = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1]
DISCRETE = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0]
HOLDING = [1000 + 7 * i for i in range(64)]
INPUT = [30000 + 11 * i for i in range(64)]

# Device identification: object id -> (pymodbus name, value).
DEVICE_ID = {
    0: ("VendorName", "PlantShield Test Automation"),
    1: ("ProductCode", "PS-PLC-100"),
    2: ("MajorMinorRevision", "3.8.3"),
    3: ("VendorUrl", "https://plantshield.example/plc"),
    4: ("ProductName", "Stack Test PLC"),
    5: ("ModelName", "Loopback Model 1"),
    6: ("UserApplicationName", "modbus_stack.py"),
}


def fail(msg: str) -> None:
    print(f"modbus_stack.py: {msg}", file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------------
# Server (run in a child process: `modbus_stack.py --serve HOST PORT`)
# --------------------------------------------------------------------------


def serve(host: str, port: int) -> None:
    import asyncio

    from pymodbus.datastore import (
        ModbusSequentialDataBlock,
        ModbusServerContext,
        ModbusSlaveContext,
    )
    from pymodbus.device import ModbusDeviceIdentification
    from pymodbus.server import StartAsyncTcpServer

    # pymodbus maps protocol address a to block address a + 1.
    slave = ModbusSlaveContext(
        co=ModbusSequentialDataBlock(1, list(COILS)),
        di=ModbusSequentialDataBlock(1, list(DISCRETE)),
        hr=ModbusSequentialDataBlock(1, list(HOLDING)),
        ir=ModbusSequentialDataBlock(1, list(INPUT)),
    )
    context = ModbusServerContext(slaves={UNIT: slave}, single=False)
    identity = ModbusDeviceIdentification(
        info_name={name: value for name, value in DEVICE_ID.values()}
    )
    asyncio.run(
        StartAsyncTcpServer(context=context, identity=identity, address=(host, port))
    )


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------


def hexs(b: bytes) -> str:
    return b.hex()


class Recorder:
    """Runs operations and records what the client observed."""

    def __init__(self, client):
        self.client = client
        self.ops: list[dict] = []

    def run(self, name: str, call, op: dict, observe=None) -> None:
        from pymodbus.exceptions import ModbusException

        op = {"name": name, **op}
        try:
            rr = call()
        except ModbusException as exc:
            fail(f"{name}: the client got no usable response: {exc}")
        op["transaction_id"] = rr.transaction_id
        op["unit_id"] = rr.dev_id
        if rr.isError():
            op["status"] = "exception"
            op["exception_code"] = rr.exception_code
        else:
            op["status"] = "ok"
            if observe is not None:
                op.update(observe(rr))
        self.ops.append(op)


def client_script(host: str, port: int, log: str) -> list[dict]:
    import logging

    # pymodbus logs exception responses as errors; keep them in a file.
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    pymodbus_log = logging.getLogger("pymodbus.logging")
    pymodbus_log.addHandler(handler)
    pymodbus_log.propagate = False

    from pymodbus.client import ModbusTcpClient
    from pymodbus.constants import DeviceInformation
    from pymodbus.pdu.file_message import FileRecord

    # retries=0: every operation is exactly one request on the wire.
    client = ModbusTcpClient(host, port=port, timeout=3, retries=0)
    if not client.connect():
        fail(f"the client could not connect to {host}:{port}")
    r = Recorder(client)
    c = client

    def bits(n):
        return lambda rr: {"values_read": [int(b) for b in rr.bits[:n]]}

    def regs(rr):
        return {"values_read": list(rr.registers)}

    def diag(rr):
        m = rr.message
        if isinstance(m, bytes):
            data = m
        elif isinstance(m, int):
            data = m.to_bytes(2, "big")
        elif isinstance(m, (list, tuple)):
            data = b"".join(int(x).to_bytes(2, "big") for x in m)
        else:
            data = b""
        return {"response_data": hexs(data)}

    def status_word(rr):
        # pymodbus decodes the status word into a boolean: 0x0000 is ready.
        return 0x0000 if rr.status else 0xFFFF

    def devid(rr):
        return {
            "device_id": {
                str(k): (v.decode() if isinstance(v, bytes) else v)
                for k, v in rr.information.items()
            },
            "read_device_id_code": rr.read_code,
        }

    # --- bit and register access -------------------------------------------
    r.run("read_coils", lambda: c.read_coils(0, count=12, slave=UNIT),
          {"function_code": 1, "address": 0, "quantity": 12}, bits(12))
    r.run("read_discrete_inputs", lambda: c.read_discrete_inputs(3, count=10, slave=UNIT),
          {"function_code": 2, "address": 3, "quantity": 10}, bits(10))
    r.run("read_holding_registers", lambda: c.read_holding_registers(4, count=6, slave=UNIT),
          {"function_code": 3, "address": 4, "quantity": 6}, regs)
    r.run("read_input_registers", lambda: c.read_input_registers(10, count=5, slave=UNIT),
          {"function_code": 4, "address": 10, "quantity": 5}, regs)
    r.run("write_single_coil", lambda: c.write_coil(1, True, slave=UNIT),
          {"function_code": 5, "address": 1, "quantity": 1, "values_written": [1]})
    r.run("write_single_coil_off", lambda: c.write_coil(2, False, slave=UNIT),
          {"function_code": 5, "address": 2, "quantity": 1, "values_written": [0]})
    r.run("read_coils_after_write", lambda: c.read_coils(0, count=4, slave=UNIT),
          {"function_code": 1, "address": 0, "quantity": 4}, bits(4))
    r.run("write_single_register", lambda: c.write_register(7, 4242, slave=UNIT),
          {"function_code": 6, "address": 7, "quantity": 1, "values_written": [4242]})
    r.run("read_exception_status", lambda: c.read_exception_status(slave=UNIT),
          {"function_code": 7}, lambda rr: {"exception_status": rr.status})

    # --- diagnostics (08): every sub-function the client offers -------------
    # (name, sub-function, request data the client sends, call); the
    # counters' requests carry 0000 as the specification asks.
    diags = [
        ("diag_return_query_data", 0x00, "1234abcd", lambda: c.diag_query_data(b"\x12\x34\xab\xcd", slave=UNIT)),
        ("diag_restart_communications", 0x01, "0000", lambda: c.diag_restart_communication(False, slave=UNIT)),
        ("diag_return_diagnostic_register", 0x02, "0000", lambda: c.diag_read_diagnostic_register(slave=UNIT)),
        ("diag_change_ascii_delimiter", 0x03, "0d00", lambda: c.diag_change_ascii_input_delimeter(delimiter=0x0D00, slave=UNIT)),
        ("diag_force_listen_only", 0x04, "0000", lambda: c.diag_force_listen_only(slave=UNIT)),
        ("diag_clear_counters", 0x0A, "0000", lambda: c.diag_clear_counters(slave=UNIT)),
        ("diag_bus_message_count", 0x0B, "0000", lambda: c.diag_read_bus_message_count(slave=UNIT)),
        ("diag_bus_comm_error_count", 0x0C, "0000", lambda: c.diag_read_bus_comm_error_count(slave=UNIT)),
        ("diag_bus_exception_error_count", 0x0D, "0000", lambda: c.diag_read_bus_exception_error_count(slave=UNIT)),
        ("diag_server_message_count", 0x0E, "0000", lambda: c.diag_read_slave_message_count(slave=UNIT)),
        ("diag_server_no_response_count", 0x0F, "0000", lambda: c.diag_read_slave_no_response_count(slave=UNIT)),
        ("diag_server_nak_count", 0x10, "0000", lambda: c.diag_read_slave_nak_count(slave=UNIT)),
        ("diag_server_busy_count", 0x11, "0000", lambda: c.diag_read_slave_busy_count(slave=UNIT)),
        ("diag_bus_char_overrun_count", 0x12, "0000", lambda: c.diag_read_bus_char_overrun_count(slave=UNIT)),
        ("diag_iop_overrun_count", 0x13, "0000", lambda: c.diag_read_iop_overrun_count(slave=UNIT)),
        ("diag_clear_overrun_counter", 0x14, "0000", lambda: c.diag_clear_overrun_counter(slave=UNIT)),
        ("diag_get_clear_modbus_plus", 0x15, "0003", lambda: c.diag_getclear_modbus_response(data=3, slave=UNIT)),
    ]
    for name, sub, data, call in diags:
        # The force-listen-only answer carries no data after the sub-function;
        # pymodbus then leaves its default message (0) in the decoded
        # response, so there is no observed data to record.
        r.run(name, call, {"function_code": 8, "sub_function": sub, "data": data},
              None if sub == 0x04 else diag)

    r.run("get_comm_event_counter", lambda: c.diag_get_comm_event_counter(slave=UNIT),
          {"function_code": 11},
          lambda rr: {"event_count": rr.count, "status_word": status_word(rr)})
    r.run("get_comm_event_log", lambda: c.diag_get_comm_event_log(slave=UNIT),
          {"function_code": 12},
          lambda rr: {"event_count": rr.event_count, "message_count": rr.message_count,
                      "status_word": status_word(rr),
                      "events": hexs(bytes(rr.events))})

    # --- multiple writes -----------------------------------------------------
    coils = [1, 0, 0, 1, 1, 0, 1, 0, 1, 1]
    r.run("write_multiple_coils", lambda: c.write_coils(5, [bool(v) for v in coils], slave=UNIT),
          {"function_code": 15, "address": 5, "quantity": len(coils), "values_written": coils})
    regs_w = [11, 2222, 33333, 0, 65535]
    r.run("write_multiple_registers", lambda: c.write_registers(20, regs_w, slave=UNIT),
          {"function_code": 16, "address": 20, "quantity": len(regs_w), "values_written": regs_w})
    r.run("read_holding_after_write", lambda: c.read_holding_registers(20, count=5, slave=UNIT),
          {"function_code": 3, "address": 20, "quantity": 5}, regs)
    r.run("report_server_id", lambda: c.report_slave_id(slave=UNIT),
          {"function_code": 17},
          lambda rr: {"server_id": hexs(rr.identifier), "run_status": bool(rr.status)})

    # --- file records --------------------------------------------------------
    # pymodbus takes record_length in bytes and sends it in registers; its
    # server cannot decode an odd register count, so both are even.
    rd = [FileRecord(file_number=4, record_number=1, record_length=4),
          FileRecord(file_number=3, record_number=9, record_length=8)]
    r.run("read_file_record", lambda: c.read_file_record(rd, slave=UNIT),
          {"function_code": 20,
           "file_records": [{"reference_type": 6, "file_number": 4, "record_number": 1, "record_length": 2},
                            {"reference_type": 6, "file_number": 3, "record_number": 9, "record_length": 4}]},
          lambda rr: {"records_read": [hexs(x.record_data) for x in rr.records]})
    wr_data = bytes([0x0A, 0xFE, 0x00, 0x01, 0x12, 0x34])
    wr = [FileRecord(file_number=4, record_number=7, record_data=wr_data)]
    r.run("write_file_record", lambda: c.write_file_record(wr, slave=UNIT),
          {"function_code": 21,
           "file_records": [{"reference_type": 6, "file_number": 4, "record_number": 7, "record_length": 3,
                             "values_written": [0x0AFE, 0x0001, 0x1234]}]})

    r.run("mask_write_register", lambda: c.mask_write_register(address=4, and_mask=0xF2F2, or_mask=0x0025, slave=UNIT),
          {"function_code": 22, "address": 4, "quantity": 1, "and_mask": 0xF2F2, "or_mask": 0x0025})
    rw_vals = [7, 8, 9]
    r.run("read_write_multiple_registers",
          lambda: c.readwrite_registers(read_address=2, read_count=8, write_address=30, values=rw_vals, slave=UNIT),
          {"function_code": 23, "address": 2, "quantity": 8, "write_address": 30,
           "write_quantity": len(rw_vals), "values_written": rw_vals}, regs)
    r.run("read_fifo_queue", lambda: c.read_fifo_queue(address=50, slave=UNIT),
          {"function_code": 24, "address": 50},
          lambda rr: {"values_read": list(rr.values)})

    # --- device identification (43/14) ---------------------------------------
    for name, code, obj in [
        ("read_device_id_basic", DeviceInformation.BASIC, 0),
        ("read_device_id_regular", DeviceInformation.REGULAR, 0),
        ("read_device_id_extended", DeviceInformation.EXTENDED, 0),
        ("read_device_id_specific", DeviceInformation.SPECIFIC, 4),
    ]:
        r.run(name, lambda code=code, obj=obj: c.read_device_information(read_code=code, object_id=obj, slave=UNIT),
              {"function_code": 43, "mei_type": 14, "read_device_id_code": int(code), "object_id": obj}, devid)

    # --- deliberate exceptions, and what the server really does out of range --
    r.run("exception_read_holding_illegal_address", lambda: c.read_holding_registers(1000, count=2, slave=UNIT),
          {"function_code": 3, "address": 1000, "quantity": 2}, regs)
    # The pinned server does not range-check bit reads: it answers the 5
    # coils it has (one byte) for the 10 asked; the client sees 8 bits.
    r.run("read_coils_beyond_datastore", lambda: c.read_coils(15, count=10, slave=UNIT),
          {"function_code": 1, "address": 15, "quantity": 10}, bits(10))
    r.run("exception_write_register_illegal_address", lambda: c.write_register(500, 1, slave=UNIT),
          {"function_code": 6, "address": 500, "quantity": 1, "values_written": [1]})
    r.run("exception_write_registers_illegal_address", lambda: c.write_registers(62, [1, 2, 3, 4], slave=UNIT),
          {"function_code": 16, "address": 62, "quantity": 4, "values_written": [1, 2, 3, 4]})
    r.run("exception_read_input_illegal_address", lambda: c.read_input_registers(64, count=1, slave=UNIT),
          {"function_code": 4, "address": 64, "quantity": 1}, regs)
    r.run("exception_write_coils_illegal_address", lambda: c.write_coils(19, [True, False, True], slave=UNIT),
          {"function_code": 15, "address": 19, "quantity": 3, "values_written": [1, 0, 1]})
    r.run("exception_write_coil_illegal_address", lambda: c.write_coil(300, True, slave=UNIT),
          {"function_code": 5, "address": 300, "quantity": 1, "values_written": [1]})
    r.run("exception_mask_write_illegal_address", lambda: c.mask_write_register(address=900, and_mask=0x00FF, or_mask=0x0100, slave=UNIT),
          {"function_code": 22, "address": 900, "quantity": 1, "and_mask": 0x00FF, "or_mask": 0x0100})
    r.run("exception_read_write_illegal_address",
          lambda: c.readwrite_registers(read_address=60, read_count=10, write_address=0, values=[1], slave=UNIT),
          {"function_code": 23, "address": 60, "quantity": 10, "write_address": 0,
           "write_quantity": 1, "values_written": [1]}, regs)
    r.run("exception_read_device_id_bad_code", lambda: c.read_device_information(read_code=5, object_id=0, slave=UNIT),
          {"function_code": 43, "mei_type": 14, "read_device_id_code": 5, "object_id": 0}, devid)
    r.run("read_holding_registers_last", lambda: c.read_holding_registers(60, count=4, slave=UNIT),
          {"function_code": 3, "address": 60, "quantity": 4}, regs)

    # Not scripted: a request to a unit id the server does not serve. The
    # pinned pymodbus server answers it with function code 0x80 (exception
    # 0x0B), which its own client cannot decode (it raises).

    client.close()
    return r.ops


# --------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, proc: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"the pymodbus server exited ({proc.returncode}); see {log}:\n"
                 + open(log, encoding="utf-8", errors="replace").read()[-2000:])
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    fail(f"the pymodbus server did not listen on {host}:{port} within 15 s")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        import pymodbus
    except ImportError:
        fail("pymodbus is not installed (pip install -r tests/requirements.txt)")

    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    pcap = os.path.join(out, "modbus.pcap")
    host = f"127.0.0.{random.randint(2, 250)}"
    port = free_port(host)
    server_log = os.path.join(out, "server.log")

    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", host, str(port)],
        stdout=open(server_log, "w", encoding="utf-8"), stderr=subprocess.STDOUT)
    try:
        wait_listening(host, port, server, server_log)
        time.sleep(0.2)  # the probe connection is closed before capturing
        # A capture with dropped packets would make PlantShield look wrong:
        # Capture raises CaptureIncomplete (exit status 75, run again).
        with Capture(pcap, f"tcp port {port}", log=os.path.join(out, "tcpdump.log")):
            ops = client_script(host, port, os.path.join(out, "client.log"))
            time.sleep(0.5)  # let the FIN exchange reach the capture
    finally:
        stop_process(server, signal.SIGTERM)

    truth = {
        "pymodbus": pymodbus.__version__,
        "server": {"ip": host, "port": port},
        "unit_id": UNIT,
        "device_id": {str(k): v for k, (_, v) in DEVICE_ID.items()},
        "operations": ops,
    }
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    print(f"modbus_stack.py: {len(ops)} operations, pymodbus {pymodbus.__version__}, "
          f"{host}:{port}, capture {os.path.getsize(pcap)} bytes")


if __name__ == "__main__":
    run_main(main, "modbus_stack.py")
