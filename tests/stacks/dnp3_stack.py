#!/usr/bin/env python3
"""Records a DNP3 conversation between two real opendnp3 stacks (yadnp3).

Usage: python3 tests/stacks/dnp3_stack.py [--udp] OUT_DIR   (--udp may also follow OUT_DIR)

Starts an opendnp3 outstation (TCP server, or with --udp a UDP channel) on
127.0.0.x and a free port chosen at run time, captures the loopback traffic
with tcpdump, and runs an
opendnp3 master through a scripted sequence: the master's own startup tasks
(disable unsolicited, clear the restart indication, integrity poll, enable
unsolicited), an integrity poll (class 0/1/2/3 read), CROB direct operates
(one the outstation rejects), a CROB select/operate, analog output direct
operates and a select/operate, an immediate freeze, an unsolicited response
(point changes at the outstation), a stop application the outstation does
not support, a cold restart and a link status check.

The truth is what the MASTER observed, independent of PlantShield: opendnp3
logs every application fragment it sends and receives (header fields, IIN,
object headers), and the command callbacks report each point's status. The
fragments are grouped as the master sees them: a request with the response
fragments and confirms that follow it, or an unsolicited response with its
confirm.

Writes into OUT_DIR:
  dnp3.pcap     the capture
  truth.json    the master's record
  stack.log, tcpdump.log   diagnostics

Exits non-zero (with a message on stderr) when anything is missing or goes
wrong, so that the caller never mistakes a broken environment for a pass;
75 (EX_TEMPFAIL) when tcpdump dropped packets: run it again (capture.py).
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import sys
import threading
import time

from capture import Capture, run_main

MASTER_ADDR = 1
OUTSTATION_ADDR = 10
# The outstation refuses commands on this index (status NOT_SUPPORTED).
REJECTED_INDEX = 9


def fail(msg: str) -> None:
    print(f"dnp3_stack.py: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port(host: str, kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# The master's log: every application fragment it sends and receives.
# --------------------------------------------------------------------------

# "FIR: 1 FIN: 1 CON: 0 UNS: 0 SEQ: 2 FUNC: READ" (+ " IIN: [0x80, 0x00]")
HEADER = re.compile(
    r"^FIR: (\d) FIN: (\d) CON: (\d) UNS: (\d) SEQ: (\d+) FUNC: ([A-Z0-9_]+)"
    r"(?: IIN: \[0x([0-9a-fA-F]{2}), 0x([0-9a-fA-F]{2})\])?$")
# "060,002 - Class Data - Class 1 - all objects",
# "001,002 Binary Input - With Flags, 8-bit start stop [0, 9]",
# "012,001 Binary Command - CROB, 16-bit count and prefix [1]"
OBJECT = re.compile(r"^(\d{3}),(\d{3})\b(.*)$")
RANGE = re.compile(r"start stop \[(\d+), (\d+)\]$")
COUNT = re.compile(r"count(?: and prefix)? \[(\d+)\]$")

# opendnp3's function names -> IEEE 1815 function codes.
FUNCTIONS = {
    "CONFIRM": 0, "READ": 1, "WRITE": 2, "SELECT": 3, "OPERATE": 4, "DIRECT_OPERATE": 5,
    "DIRECT_OPERATE_NR": 6, "IMMED_FREEZE": 7, "IMMED_FREEZE_NR": 8, "FREEZE_CLEAR": 9,
    "FREEZE_CLEAR_NR": 10, "FREEZE_AT_TIME": 11, "FREEZE_AT_TIME_NR": 12,
    "COLD_RESTART": 13, "WARM_RESTART": 14, "INITIALIZE_DATA": 15, "INITIALIZE_APPLICATION": 16,
    "START_APPLICATION": 17, "STOP_APPLICATION": 18, "SAVE_CONFIGURATION": 19,
    "ENABLE_UNSOLICITED": 20, "DISABLE_UNSOLICITED": 21, "ASSIGN_CLASS": 22,
    "DELAY_MEASURE": 23, "RECORD_CURRENT_TIME": 24, "OPEN_FILE": 25, "CLOSE_FILE": 26,
    "DELETE_FILE": 27, "GET_FILE_INFO": 28, "AUTHENTICATE_FILE": 29, "ABORT_FILE": 30,
    "ACTIVATE_CONFIG": 31, "AUTH_REQUEST": 32, "AUTH_REQUEST_NO_ACK": 33,
    "RESPONSE": 129, "UNSOLICITED_RESPONSE": 130, "AUTH_RESPONSE": 131,
}


class MasterLog:
    """Collects the master's fragment log and groups it into transactions."""

    def __init__(self, master_id: str, raw_log):
        self.master_id = master_id
        self.raw = raw_log
        self.lock = threading.Lock()
        self.fragments: list[dict] = []  # in log order
        self.link_lines: list[str] = []
        self.current: dict | None = None  # fragment whose object lines follow
        self.task = "startup"
        self.task_number = -1  # tasks begun so far, minus one

    def log(self, module, id_, level, location, message) -> None:
        with self.lock:
            if self.raw.closed:  # opendnp3 threads log while shutting down
                return
            self.raw.write(f"{id_} {location.rsplit('/', 1)[-1]} {message}\n")
            if id_ != self.master_id:
                return
            where = location.rsplit("/", 1)[-1]
            if where.startswith("MasterContext.cpp") and message.startswith("Begining task: "):
                self.task = message[len("Begining task: "):]
                self.task_number += 1
                return
            if where.startswith("APDULogging.cpp"):
                m = HEADER.match(message)
                if m is None:
                    fail(f"unexpected opendnp3 APDU log line: {message!r}")
                fir, fin, con, uns, seq, func, i1, i2 = m.groups()
                if func not in FUNCTIONS:
                    fail(f"unknown opendnp3 function name {func}")
                frag = {
                    "direction": "rx" if i1 is not None else "tx",
                    "fir": fir == "1", "fin": fin == "1", "con": con == "1", "uns": uns == "1",
                    "seq": int(seq), "function": func, "function_code": FUNCTIONS[func],
                    "objects": [], "task": self.task, "task_number": self.task_number,
                }
                if i1 is not None:
                    frag["iin"] = [int(i1, 16), int(i2, 16)]
                self.fragments.append(frag)
                self.current = frag
                return
            if where.startswith(("APDUParser", "RangeParser", "CountParser",
                                 "CountIndexParser", "FreeFormatParser")) and self.current:
                m = OBJECT.match(message)
                if m is None:
                    return
                obj = {"group": int(m.group(1)), "variation": int(m.group(2))}
                rest = m.group(3).strip()
                r = RANGE.search(rest)
                c = COUNT.search(rest)
                if r:
                    obj["start"], obj["stop"] = int(r.group(1)), int(r.group(2))
                elif c:
                    obj["count"] = int(c.group(1))
                self.current["objects"].append(obj)

    def transactions(self) -> list[dict]:
        """Requests with their response fragments and confirms; unsolicited
        responses with their confirms."""
        txns: list[dict] = []
        solicited = None
        unsolicited = None
        for f in self.fragments:
            code = f["function_code"]
            if f["direction"] == "tx" and code == 0:
                target = unsolicited if f["uns"] else solicited
                if target is None:
                    fail(f"the master confirmed nothing it had received: {f}")
                target["confirms"] += 1
            elif f["direction"] == "tx":
                solicited = {"kind": "solicited", "task": f["task"],
                             "task_number": f["task_number"], "request": f,
                             "responses": [], "confirms": 0}
                txns.append(solicited)
            elif code == 130:
                unsolicited = {"kind": "unsolicited", "task": f["task"], "responses": [f],
                               "confirms": 0}
                txns.append(unsolicited)
            else:
                if solicited is None:
                    fail(f"a response before any request: {f}")
                solicited["responses"].append(f)
        return txns


# --------------------------------------------------------------------------
# The stacks
# --------------------------------------------------------------------------


def run_stacks(host: str, port: int, master_port: int | None, out: str) -> dict:
    """Runs both stacks; `master_port` set means UDP (the master's port)."""
    import opendnp3 as o

    raw = open(os.path.join(out, "stack.log"), "w", encoding="utf-8")
    mlog = MasterLog("master", raw)

    class LogHandler(o.ILogHandler):
        def log(self, module, id_, level, location, message):
            mlog.log(module, id_, level, location, message)

    class Commands(o.ICommandHandler):
        def Begin(self):
            pass

        def End(self):
            pass

        def Select(self, command, index):
            return o.CommandStatus.NOT_SUPPORTED if index == REJECTED_INDEX \
                else o.CommandStatus.SUCCESS

        def Operate(self, command, index, handler, op_type):
            return o.CommandStatus.NOT_SUPPORTED if index == REJECTED_INDEX \
                else o.CommandStatus.SUCCESS

    class Outstation(o.IOutstationApplication):
        def ColdRestartSupport(self):
            return o.RestartMode.SUPPORTED_DELAY_FINE

        def ColdRestart(self):
            return 1500

        def SupportsAssignClass(self):
            return True

        def RecordClassAssignment(self, type_, clazz, start, stop):
            pass

    class Soe(o.ISOEHandler):
        def BeginFragment(self, info):
            pass

        def EndFragment(self, info):
            pass

    tasks: list[dict] = []
    task_done = threading.Event()

    class MasterApp(o.IMasterApplication):
        def OnTaskStart(self, type_, id_):
            pass

        def OnTaskComplete(self, info):
            tasks.append({"type": info.type.name, "result": info.result.name})
            task_done.set()

    log_handler = LogHandler()
    manager = o.DNP3Manager(1, log_handler)
    levels = o.LogLevels.everything()
    try:
        def add_outstation():
            if master_port is None:
                server = manager.AddTCPServer("server", levels, o.ServerAcceptMode.CloseExisting,
                                              o.IPEndpoint(host, port), None)
            else:
                server = manager.AddUDPChannel("server", levels, o.ChannelRetry.Default(),
                                               o.IPEndpoint(host, port),
                                               o.IPEndpoint("127.0.0.1", master_port), None)
            ocfg = o.OutstationStackConfig(o.DatabaseConfig(10))
            ocfg.outstation.params.allowUnsolicited = True
            ocfg.outstation.eventBufferConfig = o.EventBufferConfig.AllTypes(100)
            ocfg.link.LocalAddr = OUTSTATION_ADDR
            ocfg.link.RemoteAddr = MASTER_ADDR
            ocfg.link.KeepAliveTimeout = o.TimeDuration.Minutes(10)
            outstation = server.AddOutstation("outstation", commands, outstation_app, ocfg)
            outstation.Enable()
            return outstation

        def add_master():
            if master_port is None:
                client = manager.AddTCPClient("client", levels, o.ChannelRetry.Default(),
                                              [o.IPEndpoint(host, port)], "0.0.0.0", None)
            else:
                client = manager.AddUDPChannel("client", levels, o.ChannelRetry.Default(),
                                               o.IPEndpoint("127.0.0.1", master_port),
                                               o.IPEndpoint(host, port), None)
            mcfg = o.MasterStackConfig()
            mcfg.link.LocalAddr = MASTER_ADDR
            mcfg.link.RemoteAddr = OUTSTATION_ADDR
            mcfg.link.KeepAliveTimeout = o.TimeDuration.Minutes(10)
            return client, client.AddMaster("master", soe, master_app, mcfg)

        commands, outstation_app = Commands(), Outstation()
        soe, master_app = Soe(), MasterApp()
        if master_port is None:
            # TCP: the outstation listens, the master connects.
            outstation = add_outstation()
            client, master = add_master()
        else:
            # UDP: both sockets are bound before either station sends, so
            # that no datagram meets a closed port (an ICMP error closes
            # opendnp3's UDP channel for a while). The outstation's first
            # unsolicited response still reaches the master before it is
            # enabled, and the master drops it.
            client, master = add_master()
            outstation = add_outstation()
            time.sleep(0.2)
        master.Enable()

        # The master's startup tasks: disable unsolicited, clear restart,
        # integrity poll, enable unsolicited.
        deadline = time.monotonic() + 15
        while not any(t["type"] == "ENABLE_UNSOLICITED" for t in tasks):
            if time.monotonic() > deadline:
                fail(f"the master's startup tasks did not complete: {tasks}")
            time.sleep(0.05)
        bad = [t for t in tasks if t["result"] != "SUCCESS"]
        if bad:
            fail(f"the master's startup tasks failed: {bad}")

        results: list[dict] = []

        def wait_task(name: str, expect: str = "SUCCESS") -> None:
            if not task_done.wait(10):
                fail(f"{name}: the master did not complete the task within 10 s")
            task_done.clear()
            if tasks[-1]["result"] != expect:
                fail(f"{name}: the master's task ended {tasks[-1]['result']}, expected {expect}")
            tasks[-1]["name"] = name
            time.sleep(0.05)

        def command(name: str, call, commanded: list[dict]) -> None:
            done = threading.Event()
            got: dict = {}

            def cb(r):
                got["summary"] = r.summary.name
                got["points"] = [{"index": p.index, "state": p.state.name,
                                  "status": p.status.name} for p in r.to_list()]
                done.set()

            task_done.clear()
            call(cb)
            if not done.wait(10):
                fail(f"{name}: no command result within 10 s")
            wait_task(name)
            results.append({"name": name, "task_index": len(tasks) - 1,
                            "commanded": commanded, **got})

        # An integrity poll: classes 1, 2, 3 and 0.
        task_done.clear()
        master.ScanClasses(o.ClassField.AllClasses(), soe)
        wait_task("integrity poll")

        crob = o.ControlRelayOutputBlock
        command("crob_direct_operate_latch_on",
                lambda cb: master.DirectOperate(crob(o.OperationType.LATCH_ON), 3, cb),
                [{"index": 3, "op_type": "latch_on", "tcc": "nul", "count": 1,
                  "on_time": 100, "off_time": 100}])
        command("crob_select_operate_pulse_on",
                lambda cb: master.SelectAndOperate(
                    crob(o.OperationType.PULSE_ON, o.TripCloseCode.CLOSE, False, 2, 250, 750),
                    4, cb),
                [{"index": 4, "op_type": "pulse_on", "tcc": "close", "count": 2,
                  "on_time": 250, "off_time": 750}])
        command("crob_direct_operate_rejected",
                lambda cb: master.DirectOperate(crob(o.OperationType.LATCH_OFF), REJECTED_INDEX, cb),
                [{"index": REJECTED_INDEX, "op_type": "latch_off", "tcc": "nul", "count": 1,
                  "on_time": 100, "off_time": 100}])
        command("analog_direct_operate_int32",
                lambda cb: master.DirectOperate(o.AnalogOutputInt32(-1234), 1, cb),
                [{"index": 1, "variation": 1, "value": -1234}])
        command("analog_direct_operate_int16",
                lambda cb: master.DirectOperate(o.AnalogOutputInt16(77), 0, cb),
                [{"index": 0, "variation": 2, "value": 77}])
        command("analog_select_operate_float32",
                lambda cb: master.SelectAndOperate(o.AnalogOutputFloat32(12.5), 2, cb),
                [{"index": 2, "variation": 3, "value": 12.5}])
        command("analog_direct_operate_double64",
                lambda cb: master.DirectOperate(o.AnalogOutputDouble64(-0.25), 5, cb),
                [{"index": 5, "variation": 4, "value": -0.25}])

        # Immediate freeze of every counter.
        task_done.clear()
        master.Freeze(o.FreezeType.ImmediateFreeze, [o.Header.AllObjects(20, 0)])
        wait_task("immediate freeze")

        # Binary and analog inputs into class 1, then point changes at the
        # outstation: an unsolicited response.
        task_done.clear()
        master.PerformFunction("assign class", o.FunctionCode.ASSIGN_CLASS,
                               [o.Header.From(o.PointClass.Class1), o.Header.AllObjects(1, 0),
                                o.Header.AllObjects(30, 0)])
        wait_task("assign class")
        unsolicited_before = sum(1 for f in mlog.fragments if f["function_code"] == 130)
        builder = o.UpdateBuilder()
        builder.Update(o.Binary(True, o.Flags(1)), 2, o.EventMode.Force)
        builder.Update(o.Analog(42.0, o.Flags(1)), 4, o.EventMode.Force)
        outstation.Apply(builder.Build())
        deadline = time.monotonic() + 10
        while sum(1 for f in mlog.fragments if f["function_code"] == 130) == unsolicited_before \
                or mlog.fragments[-1]["function_code"] != 0:
            if time.monotonic() > deadline:
                fail("no confirmed unsolicited response within 10 s")
            time.sleep(0.05)
        time.sleep(0.2)

        # A function the outstation does not implement: IIN2.0 in the response.
        task_done.clear()
        master.PerformFunction("stop application", o.FunctionCode.STOP_APPLICATION, [])
        wait_task("stop application", "FAILURE_BAD_RESPONSE")

        restart: dict = {}
        restarted = threading.Event()

        def on_restart(r):
            restart["summary"] = r.summary.name
            restarted.set()

        task_done.clear()
        master.Restart(o.RestartType.COLD, on_restart)
        if not restarted.wait(10):
            fail("cold restart: no result within 10 s")
        wait_task("cold restart")

        # A link status check (link layer only).
        link: dict = {}
        linked = threading.Event()

        def on_link(r):
            link["result"] = str(r)
            linked.set()

        master.CheckLinkStatus(on_link)
        if not linked.wait(10):
            fail("link status: no result within 10 s")
        time.sleep(0.3)
        # The master's channel closes first: a master whose outstation goes
        # away first reconnects, and that attempt would be a second flow.
        client.Shutdown()
        time.sleep(0.3)
    finally:
        manager.Shutdown()
        with mlog.lock:
            raw.close()

    return {
        "transactions": mlog.transactions(),
        "tasks": tasks,
        "commands": results,
        "cold_restart": restart,
        "link_status": link,
    }


def main() -> None:
    args = sys.argv[1:]
    udp = "--udp" in args  # before or after OUT_DIR
    args = [a for a in args if a != "--udp"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        import opendnp3  # noqa: F401
        from importlib.metadata import version
        yadnp3_version = version("yadnp3")
    except Exception as exc:  # ImportError, PackageNotFoundError
        fail(f"yadnp3 is not installed (pip install -r tests/requirements.txt): {exc}")

    out = os.path.abspath(args[0])
    os.makedirs(out, exist_ok=True)
    pcap = os.path.join(out, "dnp3.pcap")
    host = f"127.0.0.{random.randint(2, 250)}"
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    port = free_port(host, kind)
    master_port = free_port("127.0.0.1", kind) if udp else None

    # A capture with dropped packets raises CaptureIncomplete (exit 75).
    with Capture(pcap, f"{'udp' if udp else 'tcp'} port {port}",
                 log=os.path.join(out, "tcpdump.log")):
        record = run_stacks(host, port, master_port, out)
        time.sleep(0.5)  # let the FIN exchange reach the capture

    truth = {
        "yadnp3": yadnp3_version,
        "transport": "udp" if udp else "tcp",
        "outstation": {"ip": host, "port": port, "address": OUTSTATION_ADDR},
        "master": {"address": MASTER_ADDR},
        **record,
    }
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    print(f"dnp3_stack.py: {len(record['transactions'])} transactions, yadnp3 {yadnp3_version}, "
          f"{host}:{port}, capture {os.path.getsize(pcap)} bytes")


if __name__ == "__main__":
    run_main(main, "dnp3_stack.py")
