#!/usr/bin/env python3
"""Records DNS and HTTP between real stacks on loopback.

Usage: python3 tests/stacks/it_stack.py OUT_DIR

DNS: an authoritative server built with dnspython (messages decoded and
encoded by dnspython, names compressed as it compresses them) answers on
127.0.0.x port 53, over UDP and TCP, from a small zone: A, AAAA, a CNAME
chain, PTR, MX, TXT, and NXDOMAIN. dnspython's query functions ask it,
some queries with EDNS.

HTTP: Python's http.server (HTTP/1.1, persistent connections) on 127.0.0.x
port 80 and on a free port no protocol registers, asked by http.client:
GET, HEAD, POST with a body, a chunked response, a redirect, a 404, with a
browser User-Agent.

Writes into OUT_DIR:
  it.pcap       the capture
  truth.json    what the clients sent and received, as they observed it
                (independent of PlantShield)
  tcpdump.log   diagnostics

Exits non-zero (with a message on stderr) when anything is missing or goes
wrong; 75 (EX_TEMPFAIL) when tcpdump dropped packets (capture.py).
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time

from capture import Capture, run_main

try:
    import dns.flags
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.rrset
except ImportError as e:  # pragma: no cover
    print(f"it_stack.py: dnspython is missing ({e}); pip install -r tests/requirements.txt",
          file=sys.stderr)
    sys.exit(1)

# The zone: owner -> [(type, ttl, data)].
ZONE = {
    "plc1.plant.example.": [("CNAME", 300, "ctl1.plant.example.")],
    "ctl1.plant.example.": [("A", 60, "10.0.0.10"), ("AAAA", 60, "fd00::10")],
    "hmi.plant.example.": [("A", 120, "10.0.0.30")],
    "10.0.0.10.in-addr.arpa.": [("PTR", 3600, "ctl1.plant.example.")],
    "plant.example.": [("MX", 600, "10 mail.plant.example."),
                       ("TXT", 600, '"site=north" "line=3"')],
}

# (transport, name, type, EDNS)
QUERIES = [
    ("udp", "plc1.plant.example.", "A", False),
    ("udp", "ctl1.plant.example.", "AAAA", True),
    ("udp", "10.0.0.10.in-addr.arpa.", "PTR", False),
    ("udp", "plant.example.", "MX", True),
    ("udp", "plant.example.", "TXT", False),
    ("udp", "nothing.plant.example.", "A", False),
    ("tcp", "hmi.plant.example.", "A", False),
    ("tcp", "plc1.plant.example.", "A", True),
]

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
      "(KHTML, like Gecko) Chrome/124.0 Safari/537.36")
SERVER = "PlantShieldTest/1.0"


def fail(msg: str) -> None:
    print(f"it_stack.py: {msg}", file=sys.stderr)
    sys.exit(1)


def answer(wire: bytes) -> bytes:
    """The zone's answer to a query, built by dnspython."""
    q = dns.message.from_wire(wire)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    question = q.question[0]
    name = question.name.to_text().lower()
    rtype = dns.rdatatype.to_text(question.rdtype)
    if name not in ZONE:
        r.set_rcode(dns.rcode.NXDOMAIN)
        return r.to_wire()
    owner = name
    for _ in range(4):
        records = ZONE.get(owner, [])
        cname = [x for x in records if x[0] == "CNAME"]
        if cname and rtype != "CNAME":
            _, ttl, target = cname[0]
            r.answer.append(dns.rrset.from_text(owner, ttl, "IN", "CNAME", target))
            owner = target
            continue
        for t, ttl, data in records:
            if t == rtype:
                r.answer.append(dns.rrset.from_text(owner, ttl, "IN", t, data))
        break
    return r.to_wire()


class DnsUdp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(answer(data), self.client_address)


class DnsTcp(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            head = self.request.recv(2)
            if len(head) < 2:
                return
            n = int.from_bytes(head, "big")
            data = b""
            while len(data) < n:
                chunk = self.request.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            out = answer(data)
            self.request.sendall(len(out).to_bytes(2, "big") + out)


class Udp(socketserver.ThreadingUDPServer):
    allow_reuse_address = True


class Tcp(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Web(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER
    sys_version = ""

    def log_message(self, *args):
        pass

    def version_string(self):
        return SERVER

    def body(self, status: int, text: bytes, extra=()):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        return text

    def do_GET(self):
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"line one\n", b"line two, longer\n", b"3\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/old":
            self.wfile.write(self.body(302, b"moved", [("Location", "/status")]))
            return
        if self.path == "/missing":
            self.wfile.write(self.body(404, b"no such page"))
            return
        self.wfile.write(self.body(200, b"status: running\n" * 20))

    def do_HEAD(self):
        self.body(200, b"x" * 1234)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self.wfile.write(self.body(201, b"stored %d octets" % len(data)))


class WebServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve(server) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


def rr_text(rrset) -> list[dict]:
    out = []
    for rd in rrset:
        t = dns.rdatatype.to_text(rrset.rdtype)
        item = {"rrname": rrset.name.to_text(omit_final_dot=True), "rrtype_name": t,
                "ttl": rrset.ttl}
        if t in ("A", "AAAA"):
            item["data"] = rd.address
        elif t in ("CNAME", "PTR", "NS"):
            item["data"] = rd.target.to_text(omit_final_dot=True)
        elif t == "MX":
            item["data"] = rd.exchange.to_text(omit_final_dot=True)
            item["preference"] = rd.preference
        elif t == "TXT":
            item["data"] = b"".join(rd.strings).decode()
        out.append(item)
    return out


def dns_client(host: str) -> list[dict]:
    truth = []
    for transport, name, rtype, edns in QUERIES:
        q = dns.message.make_query(name, rtype, use_edns=0 if edns else None)
        if transport == "udp":
            r = dns.query.udp(q, host, port=53, timeout=3)
        else:
            r = dns.query.tcp(q, host, port=53, timeout=3)
        answers = []
        for rrset in r.answer:
            answers.extend(rr_text(rrset))
        truth.append({"transport": transport, "id": q.id,
                      "rrname": name.rstrip("."), "rrtype_name": rtype,
                      "rcode_name": dns.rcode.to_text(r.rcode()).lower(),
                      "answers": answers})
        time.sleep(0.02)
    return truth


def http_client(host: str, port: int, requests) -> list[dict]:
    truth = []
    conn = http.client.HTTPConnection(host, port, timeout=5)
    for method, path, body in requests:
        headers = {"User-Agent": UA}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        truth.append({"port": port, "method": method, "uri": path, "status": resp.status,
                      "server": (resp.getheader("Server") or "").strip()})
    conn.close()
    return truth


def main() -> None:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    # Not 127.0.0.53, where a local resolver may listen.
    hosts = [i for i in range(2, 251) if i != 53]
    dns_host = f"127.0.0.{random.choice(hosts)}"
    web_host = f"127.0.0.{random.choice(hosts)}"
    try:
        udp = Udp((dns_host, 53), DnsUdp)
        tcp = Tcp((dns_host, 53), DnsTcp)
        web = WebServer((web_host, 80), Web)
        other_port = free_port(web_host)
        other = WebServer((web_host, other_port), Web)
    except OSError as e:
        fail(f"cannot listen on port 53 or 80 of 127.0.0.x ({e}); the stack tests need root")
    for s in (udp, tcp, web, other):
        serve(s)
    pcap = os.path.join(out, "it.pcap")
    bpf = f"host {dns_host} or host {web_host}"
    with Capture(pcap, bpf, log=os.path.join(out, "tcpdump.log")):
        dns_truth = dns_client(dns_host)
        http_truth = http_client(web_host, 80, [
            ("GET", "/status", None),
            ("HEAD", "/status", None),
            ("GET", "/chunked", None),
            ("POST", "/config", b"mode=run&setpoint=42"),
            ("GET", "/old", None),
            ("GET", "/missing", None),
        ])
        http_truth += http_client(web_host, other_port, [
            ("GET", "/status", None),
            ("GET", "/chunked", None),
        ])
        time.sleep(0.5)  # let the FIN exchanges reach the capture
    for s in (udp, tcp, web, other):
        s.shutdown()
        s.server_close()
    truth = {"dns_host": dns_host, "web_host": web_host, "other_port": other_port,
             "user_agent": UA, "server": SERVER, "dns": dns_truth, "http": http_truth}
    with open(os.path.join(out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    run_main(main, "it_stack.py")
