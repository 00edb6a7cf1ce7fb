"""The tcpdump capture every stack script records its traffic with.

    import capture

    def main():
        ...
        with capture.Capture(pcap, f"tcp port {port}", log=tlog):
            ...run the stacks...
        ...write truth.json...

    if __name__ == "__main__":
        capture.run_main(main, "modbus_stack.py")

`Capture` finds tcpdump, starts it on an interface (`lo` unless told
otherwise; inside network namespace `netns` when given) with

    tcpdump -i IFACE -n -U --immediate-mode -s 65535 -B 65536 -Z root -w PCAP FILTER

waits (at most `start_timeout` seconds) until tcpdump says "listening on"
and the capture file exists, and on leaving the `with` block stops it with
SIGINT and reads the statistics it prints. When the block ended normally
and tcpdump reports a packet "dropped by kernel", or printed no statistics
at all, it raises `CaptureIncomplete`: the capture misses segments that the
stacks did exchange, so comparing it with their truth would blame
PlantShield for the capture. When the block ends with an exception
(`fail()` in a script raises SystemExit), tcpdump is stopped and that
exception goes on unchanged.

`run_main` runs a script's main function and turns `CaptureIncomplete`
(and `PeerRace`)
into exit status 75 (EX_TEMPFAIL) with one line on stderr: the caller (the
Rust helper `run_stack_script` in crates/cli/tests/common/mod.rs) then
runs the script again. Any other problem with the capture (tcpdump
missing, exiting, or not starting in time) is exit status 1, as every
other failure of the scripts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

EX_TEMPFAIL = 75


class CaptureError(Exception):
    """tcpdump is missing, or could not capture at all."""


class CaptureIncomplete(Exception):
    """tcpdump ran, but its capture misses packets (or it cannot tell)."""


class PeerRace(Exception):
    """A real stack lost a reply that is on the wire (a known race in the
    library, not in what we test): the run says nothing, run it again."""


def find_program(name: str) -> str | None:
    """`name` on PATH, or in the sbin directories PATH often lacks."""
    return shutil.which(name) or next(
        (p for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
         if os.access(p := os.path.join(d, name), os.X_OK)), None)


def stop_process(proc: subprocess.Popen, sig=signal.SIGINT, timeout: float = 10) -> int:
    """Sends `sig` to `proc` unless it has exited, waits at most `timeout`
    seconds, then kills it. Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _stat(text: str, what: str) -> int | None:
    m = re.search(rf"(\d+) packets? {what}", text)
    return int(m.group(1)) if m else None


class Capture:
    """tcpdump recording `bpf_filter` on `interface` into `pcap`."""

    def __init__(self, pcap: str, bpf_filter: str, *, interface: str = "lo",
                 netns: str | None = None, log: str | None = None,
                 start_timeout: float = 10.0, settle: float = 0.3,
                 stop_timeout: float = 10.0):
        self.pcap = pcap
        self.filter = bpf_filter
        self.interface = interface
        self.netns = netns
        self.log = log or os.path.join(os.path.dirname(os.path.abspath(pcap)), "tcpdump.log")
        self.start_timeout = start_timeout
        self.settle = settle
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self.stats: dict[str, int | None] = {}

    def command(self) -> list[str]:
        tcpdump = find_program("tcpdump")
        if tcpdump is None:
            raise CaptureError("tcpdump is not installed (run .ci/install)")
        cmd = [tcpdump, "-i", self.interface, "-n", "-U", "--immediate-mode",
               "-s", "65535", "-B", "65536", "-Z", "root", "-w", self.pcap, self.filter]
        if self.netns is not None:
            ip = find_program("ip")
            if ip is None:
                raise CaptureError("ip (iproute2) is not installed (run .ci/install)")
            # `ip netns exec` execs tcpdump: the process signalled is tcpdump.
            cmd = [ip, "netns", "exec", self.netns, *cmd]
        return cmd

    def start(self) -> None:
        cmd = self.command()
        if os.path.exists(self.pcap):
            os.remove(self.pcap)
        with open(self.log, "w", encoding="utf-8") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise CaptureError(
                    f"tcpdump exited ({self.proc.returncode}; capturing on {self.interface} "
                    f"needs root or CAP_NET_RAW): {_read(self.log).strip()}")
            if "listening on" in _read(self.log) and os.path.exists(self.pcap):
                time.sleep(self.settle)
                return
            time.sleep(0.05)
        self.stop()
        raise CaptureError(f"tcpdump did not start capturing within {self.start_timeout:g} s: "
                           f"{_read(self.log).strip()}")

    def stop(self) -> int | None:
        """Stops tcpdump (SIGINT, then SIGKILL after `stop_timeout`) and
        reads its statistics. Returns its exit status."""
        p = self.proc
        if p is None:
            return self.returncode
        self.proc = None
        self.returncode = stop_process(p, signal.SIGINT, self.stop_timeout)
        text = _read(self.log)
        self.stats = {
            "captured": _stat(text, "captured"),
            "received": _stat(text, "received by filter"),
            "dropped": _stat(text, "dropped by kernel"),
        }
        return self.returncode

    def check(self) -> None:
        """Raises CaptureIncomplete unless tcpdump reported that it dropped
        no packet."""
        s = self.stats
        where = f"see {self.log}"
        if s.get("dropped") is None or s.get("received") is None:
            raise CaptureIncomplete(
                f"tcpdump (exit status {self.returncode}) printed no statistics, "
                f"the capture may be incomplete; {where}")
        if s["dropped"] > 0:
            raise CaptureIncomplete(
                f"tcpdump dropped {s['dropped']} packets (kernel) and received "
                f"{s['received']} by filter, the capture is incomplete; {where}")

    def __enter__(self) -> "Capture":
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.stop()
        if exc_type is None:
            if self.returncode not in (0, None):
                print(f"{os.path.basename(sys.argv[0])}: tcpdump exited with {self.returncode}",
                      file=sys.stderr)
            self.check()
        return False


def run_main(main, prog: str) -> None:
    """Runs `main()`: a capture with missing packets exits 75 (EX_TEMPFAIL,
    the caller reruns the script), any other capture problem exits 1, each
    with one line on stderr."""
    try:
        main()
    except (CaptureIncomplete, PeerRace) as e:
        print(f"{prog}: {e} (exit status {EX_TEMPFAIL}: run again)", file=sys.stderr)
        sys.exit(EX_TEMPFAIL)
    except CaptureError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(1)
