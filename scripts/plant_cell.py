#!/usr/bin/env python3
"""The hosts of the sample plant cell (see samples/README.md), each a real
protocol stack (pymodbus, python-snap7, c104, cpppo). scripts/record-sample.sh
runs every role in its own network namespace and records the traffic.

  plant_cell.py hosts                 name, IPv4 address and MAC of every host
  plant_cell.py plc NAME              a Modbus PLC: Modbus/TCP server on port 502
  plant_cell.py s7plc                 the S7 PLC: python-snap7 server on port 102
  plant_cell.py rtu                   the substation RTU: c104 IEC 104 server on port 2404
  plant_cell.py logix                 the packaging PLC: cpppo EtherNet/IP server on port 44818
  plant_cell.py hmi SECONDS           the HMI: polls every PLC for SECONDS
  plant_cell.py ews                   the engineering workstation's session
  plant_cell.py wait HOST...          until every PLC named accepts connections
  plant_cell.py tx-checksum-off IFACE compute checksums in software on IFACE (as
                                      `ethtool -K IFACE tx off`): without it, veth
                                      frames are captured with partial checksums
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import socket
import sys
import time

PORT = 502
S7_PORT = 102
IEC104_PORT = 2404
ENIP_PORT = 44818

# name: (IPv4, MAC, Modbus unit id)
HOSTS = {
    "plc1": ("10.10.0.11", "02:00:0a:0a:00:0b", 1),
    "plc2": ("10.10.0.12", "02:00:0a:0a:00:0c", 2),
    "plc3": ("10.10.0.13", "02:00:0a:0a:00:0d", 3),
    "s7plc": ("10.10.0.14", "02:00:0a:0a:00:0e", None),
    "rtu": ("10.10.0.15", "02:00:0a:0a:00:0f", None),
    "logix": ("10.10.0.16", "02:00:0a:0a:00:10", None),
    "hmi": ("10.10.0.20", "02:00:0a:0a:00:14", None),
    "ews": ("10.10.0.30", "02:00:0a:0a:00:1e", None),
}
# The port each server listens on.
SERVES = {"plc1": PORT, "plc2": PORT, "plc3": PORT, "s7plc": S7_PORT, "rtu": IEC104_PORT,
          "logix": ENIP_PORT}

# S7 PLC (filter press): DB1 holds the recipe, 16 bytes read by the HMI.
S7_RACK, S7_SLOT = 0, 2
S7_DB = 1
S7_RECIPE = bytes([0x00, 0x64, 0x01, 0xF4, 0x00, 0x1E, 0x00, 0x0A] + [0] * 56)

# IEC 104 RTU (incoming 20 kV feeder), common address 47.
RTU_CA = 47
RTU_MEASURED = {1001: 20.4, 1002: 182.0, 1003: 49.98}  # kV, A, Hz (M_ME_NC_1, periodic)
RTU_BREAKER = 2001     # breaker position, M_SP_NA_1
RTU_BREAKER_CMD = 5001  # breaker command, C_SC_NA_1, select and execute

# EtherNet/IP PLC (packaging line): cpppo's simulated Logix with two tags.
ENIP_TAGS = ["LineSpeed=REAL[4]", "Counts=DINT[8]"]

# Device identification (43/14 objects 0-6) of each PLC.
IDENTITY = {
    "plc1": {
        "VendorName": "Northwind Controls",
        "ProductCode": "NWC-M340-2020",
        "MajorMinorRevision": "3.10",
        "VendorUrl": "https://northwind-controls.example/plc",
        "ProductName": "NW Logic M340",
        "ModelName": "BMX P34 2020",
        "UserApplicationName": "BOILER_FEED_V7",
    },
    "plc2": {
        "VendorName": "Northwind Controls",
        "ProductCode": "NWC-M221-24",
        "MajorMinorRevision": "1.6",
        "VendorUrl": "https://northwind-controls.example/plc",
        "ProductName": "NW Logic M221",
        "ModelName": "TM221CE24T",
        "UserApplicationName": "DOSING_SKID_B",
    },
    "plc3": {
        "VendorName": "Aster Automation",
        "ProductCode": "AA-CPX-500",
        "MajorMinorRevision": "2.4.1",
        "VendorUrl": "https://aster-automation.example",
        "ProductName": "Aster CPX Controller",
        "ModelName": "CPX-500-E",
        "UserApplicationName": "COOLING_LOOP_2",
    },
}

# Register maps (protocol addresses from 0). Holding registers are set
# points, input registers process values, coils commands, discrete inputs
# field states.
SETPOINTS = {
    # drum level mm, steam pressure 0.1 bar, feed pump speed limit %, ...
    "plc1": [500, 120, 90, 15, 30, 0, 0, 0, 0, 0],
    # chlorine dose 0.01 mg/l, pH x100, pump A stroke %, pump B stroke %, ...
    "plc2": [150, 720, 40, 35, 10, 0, 0, 0, 0, 0],
    # supply temperature 0.1 degC, return limit 0.1 degC, fan speed %, ...
    "plc3": [180, 260, 60, 3, 0, 0, 0, 0, 0, 0],
}
COILS = {
    "plc1": [1, 0, 1, 0, 0, 0, 0, 0],  # pump 1 run, pump 2 run, feed valve, alarm reset, ...
    "plc2": [1, 0, 0, 0, 0, 0, 0, 0],  # dosing pump A, B, agitator, ...
    "plc3": [1, 1, 0, 0, 0, 0, 0, 0],  # circulation pump, fan 1, fan 2, ...
}

log = logging.getLogger("plant_cell")


# --------------------------------------------------------------------------
# PLC
# --------------------------------------------------------------------------


def plc(name: str) -> None:
    from pymodbus.datastore import (
        ModbusSequentialDataBlock,
        ModbusServerContext,
        ModbusSlaveContext,
    )
    from pymodbus.device import ModbusDeviceIdentification
    from pymodbus.server import StartAsyncTcpServer

    ip, _, unit = HOSTS[name]
    # pymodbus maps protocol address a to block address a + 1: every
    # table holds addresses 0..99 (a read beyond gets an exception).
    hr = list(SETPOINTS[name]) + [0] * 90
    co = list(COILS[name]) + [0] * 92
    slave = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(1, hr),
        ir=ModbusSequentialDataBlock(1, [0] * 100),
        co=ModbusSequentialDataBlock(1, co),
        di=ModbusSequentialDataBlock(1, [0] * 100),
    )
    context = ModbusServerContext(slaves={unit: slave}, single=False)
    identity = ModbusDeviceIdentification(info_name=IDENTITY[name])

    async def process() -> None:
        """A slow plant: process values follow the set points."""
        rnd = random.Random(unit)
        pv = [float(v) for v in SETPOINTS[name][:4]]
        t0 = time.monotonic()
        while True:
            sp = slave.getValues(3, 0, 4)
            co = slave.getValues(1, 0, 8)
            t = time.monotonic() - t0
            for i in range(4):
                pv[i] += 0.08 * (sp[i] - pv[i]) + rnd.gauss(0, 0.6)
            ir = [max(0, min(65535, round(v))) for v in pv]
            # a flow and a motor current that depend on the coils
            ir.append(max(0, round((420 if co[0] else 0) + 15 * math.sin(t / 3) + rnd.gauss(0, 2))))
            ir.append(max(0, round((87 if co[1] else 0) + rnd.gauss(0, 1))))
            ir.extend([0x0001, 0, 0, 0])  # status word, alarms
            slave.setValues(4, 0, ir)
            # discrete inputs: run feedbacks mirror the coils, limit switches
            di = [co[0], co[1], co[2], 1, 0, int(pv[0] > SETPOINTS[name][0] * 1.2), 0, 1]
            slave.setValues(2, 0, di)
            await asyncio.sleep(0.1)

    async def main() -> None:
        asyncio.get_running_loop().create_task(process())
        await StartAsyncTcpServer(context=context, identity=identity, address=(ip, PORT))

    asyncio.run(main())


def s7plc() -> None:
    import ctypes
    import signal

    import snap7
    from snap7.type import SrvArea

    srv = snap7.server.Server(log=False)
    db = (ctypes.c_uint8 * len(S7_RECIPE)).from_buffer_copy(S7_RECIPE)
    srv.register_area(SrvArea.DB, S7_DB, db)
    inputs = (ctypes.c_uint8 * 16)()
    outputs = (ctypes.c_uint8 * 16)()
    srv.register_area(SrvArea.PE, 0, inputs)
    srv.register_area(SrvArea.PA, 0, outputs)
    srv.start_to(HOSTS["s7plc"][0], S7_PORT)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.1)
    srv.stop()
    srv.destroy()


def rtu() -> None:
    import signal

    import c104

    server = c104.Server(ip=HOSTS["rtu"][0], port=IEC104_PORT, tick_rate_ms=100)
    st = server.add_station(common_address=RTU_CA)
    for ioa, value in RTU_MEASURED.items():
        p = st.add_point(io_address=ioa, type=c104.Type.M_ME_NC_1, report_ms=2000)
        p.value = value
    breaker = st.add_point(io_address=RTU_BREAKER, type=c104.Type.M_SP_NA_1)
    breaker.value = True
    cmd = st.add_point(io_address=RTU_BREAKER_CMD, type=c104.Type.C_SC_NA_1,
                       command_mode=c104.CommandMode.SELECT_AND_EXECUTE)

    def operate(point, previous_info, message) -> c104.ResponseState:
        if not message.is_select_command:
            breaker.value = bool(point.value)
            breaker.transmit(cause=c104.Cot.RETURN_INFO_REMOTE)
        return c104.ResponseState.SUCCESS

    # c104 checks the callback's annotations, which this module's
    # `from __future__ import annotations` turns into strings.
    operate.__annotations__ = {"point": c104.Point, "previous_info": c104.Information,
                               "message": c104.IncomingMessage, "return": c104.ResponseState}
    cmd.on_receive(callable=operate)
    signal.signal(signal.SIGTERM, lambda *_: (server.stop(), sys.exit(0)))
    server.start()
    while True:
        time.sleep(0.2)


def logix() -> None:
    # cpppo's simulator with its default identity (a 1756-L61 Logix).
    os.execvp(sys.executable, [sys.executable, "-m", "cpppo.server.enip", "--address",
                               f"{HOSTS['logix'][0]}:{ENIP_PORT}", "--no-print", *ENIP_TAGS])


def wait(names: list[str]) -> None:
    deadline = time.monotonic() + 20
    for n in names:
        ip, port = HOSTS[n][0], SERVES[n]
        while True:
            try:
                with socket.create_connection((ip, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"plant_cell.py: {n} ({ip}:{port}) does not accept connections")
                time.sleep(0.1)


# --------------------------------------------------------------------------
# HMI: polls each PLC on its own connection
# --------------------------------------------------------------------------


def hmi(seconds: float) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    async def poll(name: str, period: float, phase: float, stop_at: float) -> int:
        ip, _, unit = HOSTS[name]
        client = AsyncModbusTcpClient(ip, port=PORT, timeout=2, retries=0)
        await client.connect()
        if not client.connected:
            raise SystemExit(f"hmi: cannot connect to {name}")
        await asyncio.sleep(phase)
        n = 0
        nxt = time.monotonic()
        while time.monotonic() < stop_at:
            await client.read_holding_registers(0, count=10, slave=unit)
            await client.read_input_registers(0, count=10, slave=unit)
            await client.read_coils(0, count=8, slave=unit)
            if n % 5 == 0:
                await client.read_discrete_inputs(0, count=8, slave=unit)
            n += 1
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
        client.close()
        return n

    async def main() -> None:
        stop_at = time.monotonic() + seconds
        others = [
            asyncio.to_thread(poll_s7, stop_at),
            asyncio.to_thread(scada_iec104, stop_at),
            asyncio.to_thread(poll_enip, stop_at),
        ]
        cycles = await asyncio.gather(
            poll("plc1", 0.20, 0.00, stop_at),
            poll("plc2", 0.20, 0.07, stop_at),
            poll("plc3", 0.25, 0.13, stop_at),
            *others,
        )
        print(f"hmi: {cycles} polling cycles", file=sys.stderr)
        await asyncio.sleep(0.5)  # let the FIN exchanges complete

    asyncio.run(main())


def every(period: float, stop_at: float, phase: float = 0.0):
    """Yields the cycle number every `period` seconds until `stop_at`."""
    time.sleep(phase)
    n, nxt = 0, time.monotonic()
    while time.monotonic() < stop_at:
        yield n
        n += 1
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))


def poll_s7(stop_at: float) -> int:
    """The HMI reads the filter press recipe (DB1) once a second."""
    import snap7

    c = snap7.client.Client()
    c.connect(HOSTS["s7plc"][0], S7_RACK, S7_SLOT, S7_PORT)
    n = 0
    for n in every(1.0, stop_at, 0.31):
        c.db_read(S7_DB, 0, 16)
    c.disconnect()
    return n + 1


def scada_iec104(stop_at: float) -> int:
    """The SCADA side of the HMI: STARTDT, general interrogation and clock
    synchronisation (c104's Init.ALL), periodic measurements from the RTU,
    and at 20 s the operator opens the feeder breaker (select, execute)."""
    import c104

    client = c104.Client(tick_rate_ms=100, command_timeout_ms=3000)
    con = client.add_connection(ip=HOSTS["rtu"][0], port=IEC104_PORT, init=c104.Init.ALL)
    st = con.add_station(common_address=RTU_CA)
    cmd = st.add_point(io_address=RTU_BREAKER_CMD, type=c104.Type.C_SC_NA_1,
                       command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
    t0 = time.monotonic()
    client.start()
    time.sleep(max(0.0, t0 + 20 - time.monotonic()))
    cmd.value = False
    # c104 can miss the confirmation it waits for (the frames are on the
    # wire all the same): report, do not fail the recording.
    ok = cmd.transmit(cause=c104.Cot.ACTIVATION)
    print(f"hmi: open feeder breaker: {'ok' if ok else 'no confirmation seen'}", file=sys.stderr)
    time.sleep(max(0.0, stop_at - time.monotonic()))
    client.stop()
    return 1


def poll_enip(stop_at: float) -> int:
    """The HMI reads the packaging line's tags once a second."""
    from cpppo.server.enip import client

    n = 0
    with client.connector(host=HOSTS["logix"][0], port=ENIP_PORT, timeout=5) as conn:
        ops = list(client.parse_operations(["LineSpeed[0-3]", "Counts[0-7]"]))
        for n in every(1.0, stop_at, 0.53):
            for _ in conn.synchronous(operations=ops, timeout=5):
                pass
    return n + 1


# --------------------------------------------------------------------------
# Engineering workstation: short sessions, one connection each
# --------------------------------------------------------------------------


def ews() -> None:
    import threading

    from pymodbus.client import ModbusTcpClient
    from pymodbus.constants import DeviceInformation

    t0 = time.monotonic()
    others = [threading.Thread(target=f, args=(t0,)) for f in (ews_s7, ews_enip)]
    for t in others:
        t.start()
    ews_modbus(t0, ModbusTcpClient, DeviceInformation)
    for t in others:
        t.join()


def ews_modbus(t0: float, ModbusTcpClient, DeviceInformation) -> None:
    """The engineer's Modbus sessions, one connection each (samples/README.md)."""

    def at(t: float) -> None:
        time.sleep(max(0.0, t0 + t - time.monotonic()))

    def session(name: str, actions) -> None:
        ip, _, unit = HOSTS[name]
        c = ModbusTcpClient(ip, port=PORT, timeout=2, retries=0)
        if not c.connect():
            raise SystemExit(f"ews: cannot connect to {name}")
        for what, call in actions:
            rr = call(c, unit)
            status = f"exception {rr.exception_code}" if rr.isError() else "ok"
            print(f"ews: {name} {what}: {status}", file=sys.stderr)
            time.sleep(0.3)
        c.close()

    devid = lambda code: lambda c, u: c.read_device_information(read_code=code, slave=u)  # noqa: E731
    at(3)
    session("plc1", [("read device identification (regular)", devid(DeviceInformation.REGULAR)),
                     ("read set points", lambda c, u: c.read_holding_registers(0, count=10, slave=u))])
    at(6)
    session("plc2", [("read device identification (basic)", devid(DeviceInformation.BASIC))])
    at(8)
    session("plc3", [("read device identification (regular)", devid(DeviceInformation.REGULAR))])
    at(12)
    session("plc1", [("raise drum level set point to 520 mm",
                      lambda c, u: c.write_register(0, 520, slave=u))])
    at(18)
    session("plc2", [("start dosing pump B", lambda c, u: c.write_coil(1, True, slave=u))])
    at(22)
    session("plc3", [("write cooling set points",
                      lambda c, u: c.write_registers(0, [175, 255, 70], slave=u)),
                     ("read back", lambda c, u: c.read_holding_registers(0, count=3, slave=u))])
    at(26)
    # An engineer's typo: register 4000 instead of 40 -> illegal data address.
    session("plc1", [("read holding register 4000", lambda c, u: c.read_holding_registers(4000, count=2, slave=u))])
    at(30)
    session("plc2", [("stop dosing pump B", lambda c, u: c.write_coil(1, False, slave=u))])
    at(34)
    session("plc1", [("restore drum level set point to 500 mm",
                      lambda c, u: c.write_register(0, 500, slave=u))])


def ews_s7(t0: float) -> None:
    """The engineer's S7 sessions: identify the CPU and read the recipe
    (10 s), change the recipe's press time (24 s), list the blocks (32 s)."""
    import snap7

    def session(t: float, what: str, call) -> None:
        time.sleep(max(0.0, t0 + t - time.monotonic()))
        c = snap7.client.Client()
        c.connect(HOSTS["s7plc"][0], S7_RACK, S7_SLOT, S7_PORT)
        call(c)
        c.disconnect()
        print(f"ews: s7plc {what}: ok", file=sys.stderr)

    def identify(c) -> None:
        c.get_order_code()   # SZL 0x0011: module identification
        c.get_cpu_info()     # SZL 0x001C: component identification
        c.db_read(S7_DB, 0, 16)

    session(10, "identify the CPU, read the recipe", identify)
    session(24, "press time 30 s -> 45 s (DB1.DBW4)",
            lambda c: c.db_write(S7_DB, 4, bytes([0x00, 0x2D])))
    session(32, "list blocks", lambda c: c.list_blocks())


def ews_enip(t0: float) -> None:
    """ListIdentity, then the line speed set point (15 s)."""
    from cpppo.server.enip import client

    time.sleep(max(0.0, t0 + 15 - time.monotonic()))
    with client.connector(host=HOSTS["logix"][0], port=ENIP_PORT, timeout=5) as conn:
        conn.list_identity(timeout=5)
        rsp, _ = client.await_response(conn, timeout=5)
        ops = list(client.parse_operations(["LineSpeed[0]=(REAL)1.25"]))
        for _ in conn.synchronous(operations=ops, timeout=5):
            pass
    print("ews: logix line speed set point 1.25 m/s: ok", file=sys.stderr)


def tx_checksum_off(iface: str) -> None:
    import array
    import fcntl
    import struct

    SIOCETHTOOL = 0x8946
    ETHTOOL_STXCSUM = 0x17
    cmd = array.array("B", struct.pack("II", ETHTOOL_STXCSUM, 0))
    ifreq = struct.pack("16sP", iface.encode(), cmd.buffer_info()[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)


def main() -> None:
    # pymodbus logs every exception response as an error: only the
    # unexpected matters here.
    logging.basicConfig(level=logging.CRITICAL)
    args = sys.argv[1:]
    if args[:1] == ["hosts"]:
        for n, (ip, mac, unit) in HOSTS.items():
            print(n, ip, mac, unit if unit is not None else "-")
    elif args[:1] == ["plc"] and len(args) == 2 and args[1] in IDENTITY:
        plc(args[1])
    elif args == ["s7plc"]:
        s7plc()
    elif args == ["rtu"]:
        rtu()
    elif args == ["logix"]:
        logix()
    elif args[:1] == ["hmi"] and len(args) == 2:
        hmi(float(args[1]))
    elif args == ["ews"]:
        ews()
    elif args[:1] == ["tx-checksum-off"] and len(args) == 2:
        tx_checksum_off(args[1])
    elif args[:1] == ["wait"] and len(args) > 1:
        wait(args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
