#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the public captures.

Usage: fuzz/seed.py [PCAP_DIR]   (default: $PLANTSHIELD_PCAPS or ../shared/pcaps
next to the repository)

Writes fuzz/corpus/<target>/seed-*, in each target's input format (see the
comment at the top of each fuzz_targets/*.rs). Python 3 standard library only.
The corpora are generated, never committed (fuzz/corpus is in .gitignore).
"""

import hashlib
import os
import struct
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
MAX_SEED = 64 * 1024
# Link types of the `decode` target, by selector byte.
LINKS = [0, 1, 12, 101, 108, 113, 228, 229, 276]


# --------------------------------------------------------------------------
# Capture reading (pcap in both byte orders and resolutions, pcapng)


def read_capture(raw):
    """Yields (link_type, ts_ns, frame) for every record; stops at damage."""
    if len(raw) < 24:
        return
    magic = raw[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(raw)
        return
    for endian in "<>":
        (m,) = struct.unpack(endian + "I", magic)
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        return
    nano = m == 0xA1B23C4D
    (link,) = struct.unpack(endian + "I", raw[20:24])
    pos = 24
    while pos + 16 <= len(raw):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", raw[pos : pos + 16])
        if pos + 16 + incl > len(raw):
            return
        ts = sec * 10**9 + (frac if nano else frac * 1000)
        yield link & 0xFFFF, ts, raw[pos + 16 : pos + 16 + incl]
        pos += 16 + incl


def _read_pcapng(raw):
    pos, endian, ifaces = 0, "<", []
    while pos + 12 <= len(raw):
        if raw[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if raw[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack(endian + "II", raw[pos : pos + 8])
        if blen < 12 or pos + blen > len(raw):
            return
        body = raw[pos + 8 : pos + blen - 4]
        if btype == 1 and len(body) >= 8:
            link = struct.unpack(endian + "H", body[:2])[0]
            ups = 10**6
            opts = body[8:]
            while len(opts) >= 4:
                code, olen = struct.unpack(endian + "HH", opts[:4])
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    r = opts[4]
                    ups = 2 ** (r & 0x7F) if r & 0x80 else 10 ** (r & 0x7F)
                opts = opts[4 + ((olen + 3) & ~3) :]
            ifaces.append((link, ups))
        elif btype == 6 and len(body) >= 20:
            iid, hi, lo, cap, _orig = struct.unpack(endian + "IIIII", body[:20])
            if iid < len(ifaces):
                link, ups = ifaces[iid]
                t = (hi << 32) | lo
                yield link, t * 10**9 // ups, body[20 : 20 + cap]
        elif btype == 3 and len(body) >= 4 and ifaces:
            (orig,) = struct.unpack(endian + "I", body[:4])
            yield ifaces[0][0], 0, body[4 : 4 + orig]
        pos += blen


def truncate_capture(raw, limit=MAX_SEED):
    """The capture cut after its last whole record or block within `limit`."""
    if len(raw) <= limit:
        return raw
    if raw[:4] == b"\x0a\x0d\x0d\x0a":
        pos, endian = 0, "<"
        while pos + 12 <= len(raw):
            if raw[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
                endian = "<" if raw[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            (blen,) = struct.unpack(endian + "I", raw[pos + 4 : pos + 8])
            if blen < 12 or pos + blen > limit:
                break
            pos += blen
        return raw[:pos]
    endian = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    pos = 24
    while pos + 16 <= len(raw):
        (incl,) = struct.unpack(endian + "I", raw[pos + 8 : pos + 12])
        if pos + 16 + incl > limit:
            break
        pos += 16 + incl
    return raw[:pos]


def write_pcapng(records, big_endian=False, tsresol=9):
    """A pcapng of (link, ts_ns, frame): one interface per link type, EPBs,
    and the last frame of each interface 0 as a simple packet block."""
    e = ">" if big_endian else "<"

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)

    out = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    links = []
    for link, _, _ in records:
        if link not in links:
            links.append(link)
    for link in links:
        opt = struct.pack(e + "HHB", 9, 1, tsresol) + b"\0\0\0"
        opt += struct.pack(e + "HH", 0, 0)
        out += block(1, struct.pack(e + "HHI", link, 0, 262144) + opt)
    for i, (link, ts, frame) in enumerate(records):
        if i == len(records) - 1 and link == links[0]:
            out += block(3, struct.pack(e + "I", len(frame)) + frame)
            continue
        t = ts * 10**tsresol // 10**9
        body = struct.pack(e + "IIIII", links.index(link), t >> 32, t & 0xFFFFFFFF,
                           len(frame), len(frame))
        out += block(6, body + frame)
    return out


def extreme_timestamp_captures():
    """pcapng captures whose packet times span the whole range pcapng can
    express (the inputs of crates/sensor/tests/fuzz_regressions.rs): a Modbus
    request at the latest time and its response at the earliest, and a UDP
    flow that starts at the earliest time after time reached the latest."""
    e = "<"

    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(e + "II", t, n) + body + struct.pack(e + "I", n)

    def idb(offset):
        opt = struct.pack(e + "HHB", 9, 1, 0) + b"\0\0\0"  # if_tsresol: seconds
        if offset is not None:
            opt += struct.pack(e + "HHq", 14, 8, offset)  # if_tsoffset
        return block(1, struct.pack(e + "HHI", 1, 0, 0) + opt + struct.pack(e + "HH", 0, 0))

    def epb(iface, t, frame):
        return block(6, struct.pack(e + "IIIII", iface, t >> 32, t & 0xFFFFFFFF,
                                    len(frame), len(frame)) + frame)

    def ip(src, dst, proto, seg):
        hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, proto, 0,
                          bytes(src), bytes(dst))
        return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + hdr + seg

    def tcp(src, dst, sp, dp, seq, ack, payload):
        return ip(src, dst, 6, struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 0x50, 0x18,
                                           64240, 0, 0) + payload)

    def udp(src, dst, sp, dp, payload):
        return ip(src, dst, 17, struct.pack(">HHHH", sp, dp, 8 + len(payload), 0) + payload)

    c, s = [10, 0, 0, 1], [10, 0, 0, 2]
    head = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    head += idb(None) + idb(-(1 << 62))
    req = bytes.fromhex("000100000006010300000001")
    resp = bytes.fromhex("00010000000501030200ff")
    latency = head + epb(0, 1 << 63, tcp(c, s, 40000, 502, 1000, 5000, req))
    latency += epb(1, 0, tcp(s, c, 502, 40000, 5000, 1000 + len(req), resp))
    age = head + epb(0, 1 << 63, udp(c, s, 1, 2, b"x"))
    age += epb(1, 0, udp(c, s, 40000, 53, b"q"))
    age += epb(0, 1 << 63, udp(s, c, 53, 40000, b"r"))
    return [latency, age]


# --------------------------------------------------------------------------
# Minimal decoding, enough to find IP packets and TCP segments


def network(link, f):
    """(ethertype, offset of the network header) or None."""
    if link == 1:
        if len(f) < 14:
            return None
        et, off = struct.unpack(">H", f[12:14])[0], 14
        while et in (0x8100, 0x88A8, 0x9100) and len(f) >= off + 4:
            et, off = struct.unpack(">H", f[off + 2 : off + 4])[0], off + 4
        return et, off
    if link == 113 and len(f) >= 16:
        return struct.unpack(">H", f[14:16])[0], 16
    if link == 276 and len(f) >= 20:
        return struct.unpack(">H", f[0:2])[0], 20
    if link in (0, 108) and len(f) >= 4:
        v = f[4] >> 4 if len(f) > 4 else 0
        return (0x0800 if v == 4 else 0x86DD), 4
    if link in (12, 101, 228, 229) and f:
        return (0x0800 if f[0] >> 4 == 4 else 0x86DD), 0
    return None


def tcp_of(link, f):
    """(src, dst, sport, dport, seq, ack, flags, payload) of a TCP frame, or None."""
    n = network(link, f)
    if n is None:
        return None
    et, off = n
    b = f[off:]
    if et == 0x0800 and len(b) >= 20 and b[0] >> 4 == 4:
        ihl = (b[0] & 15) * 4
        total = struct.unpack(">H", b[2:4])[0]
        frag = struct.unpack(">H", b[6:8])[0]
        if b[9] != 6 or frag & 0x3FFF or total < ihl or total > len(b):
            return None
        src, dst, seg = b[12:16], b[16:20], b[ihl:total]
    elif et == 0x86DD and len(b) >= 40 and b[0] >> 4 == 6:
        plen = struct.unpack(">H", b[4:6])[0]
        if b[6] != 6 or 40 + plen > len(b):
            return None
        src, dst, seg = b[8:24], b[24:40], b[40 : 40 + plen]
    else:
        return None
    if len(seg) < 20 or (seg[12] >> 4) * 4 < 20 or (seg[12] >> 4) * 4 > len(seg):
        return None
    sport, dport, seq, ack = struct.unpack(">HHII", seg[:12])
    return src, dst, sport, dport, seq, ack, seg[13], seg[(seg[12] >> 4) * 4 :]


def tcp_flows(records):
    """{flow key: [(dir, ts, seq, ack, flags, payload)]}, dir 0 = first sender."""
    flows = {}
    for link, ts, f in records:
        t = tcp_of(link, f)
        if t is None:
            continue
        src, dst, sport, dport, seq, ack, flags, payload = t
        a, b = (src, sport), (dst, dport)
        key = (min(a, b), max(a, b))
        segs = flows.setdefault(key, {"first": a, "segs": []})
        d = 0 if a == segs["first"] else 1
        segs["segs"].append((d, ts, seq, ack, flags, payload, sport, dport))
    return flows


# --------------------------------------------------------------------------
# Corpus writers


class Corpus:
    def __init__(self, target):
        self.dir = FUZZ / "corpus" / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def add(self, data):
        data = bytes(data[:MAX_SEED])
        name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
        p = self.dir / name
        if not p.exists():
            p.write_bytes(data)
            self.count += 1


def seeds_capture_reader(corpus, raw, records):
    corpus.add(truncate_capture(raw))
    small = records[:40]
    if small:
        corpus.add(write_pcapng(small, big_endian=False, tsresol=9))
        corpus.add(write_pcapng(small[:8], big_endian=True, tsresol=6))


def seeds_decode(corpus, records):
    by_link = {}
    for link, ts, f in records:
        if link in LINKS:
            by_link.setdefault(link, []).append((ts, f))
    for link, frames in by_link.items():
        sel = bytes([LINKS.index(link)])
        for start in range(0, min(len(frames), 160), 8):
            out, last = bytearray(sel), frames[start][0]
            for ts, f in frames[start : start + 8]:
                dt = min(255, max(0, (ts - last) // 100_000_000))
                last = ts
                out += struct.pack("<HB", len(f), dt) + f
            corpus.add(out)


def ipv4_fragment_seeds(corpus):
    """Ethernet IPv4 fragments, in order, reversed and overlapping."""
    payload = struct.pack(">HHIIBBHHH", 40000, 502, 1, 0, 0x50, 0x18, 512, 0, 0)
    payload += bytes([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10]) * 6

    def frag(off, data, more, ident=7):
        fo = (off // 8) | (0x2000 if more else 0)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, fo, 64, 6, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        eth = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"
        return eth + ip + data

    chunks = [(o, payload[o : o + 24]) for o in range(0, len(payload), 24)]
    frames = [frag(o, d, o + 24 < len(payload)) for o, d in chunks]
    sel = bytes([LINKS.index(1)])
    for order in (frames, frames[::-1], frames[:2] + [frag(8, b"X" * 24, True)] + frames[2:]):
        out = bytearray(sel)
        for f in order:
            out += struct.pack("<HB", len(f), 1) + f
        corpus.add(out)


def seeds_reassembly(corpus, flows):
    for flow in flows.values():
        segs = flow["segs"]
        for caps in (b"\xff\xff", b"\x04\x08"):
            out = bytearray(caps)
            nxt = [None, None]
            for d, _ts, seq, ack, flags, payload, _sp, _dp in segs[:200]:
                base = nxt[d] or 0
                seq_off = (seq - base) & 0xFFFFFFFF
                ack_off = (ack - (nxt[1 - d] or 0)) & 0xFFFFFFFF
                if flags & 0x02 and nxt[d] is None:
                    nxt[d] = (seq + 1) & 0xFFFFFFFF
                elif nxt[d] is None:
                    nxt[d] = seq
                chunks = [payload[i : i + 255] for i in range(0, len(payload), 255)] or [b""]
                for i, c in enumerate(chunks):
                    out += bytes([(d << 7) | 0, flags])
                    out += struct.pack("<II", seq_off if i == 0 else 0, ack_off) + bytes([len(c)]) + c
                    if c:
                        s = (seq + 255 * i) & 0xFFFFFFFF
                        end = (s + len(c)) & 0xFFFFFFFF
                        if ((end - nxt[d]) & 0xFFFFFFFF) < 0x80000000:
                            nxt[d] = end
                if len(out) > 8192:
                    break
            corpus.add(out)


def modbus_adus(payload):
    """Splits a TCP payload into MBAP-framed ADUs (stops at the first bad one)."""
    out = []
    while len(payload) >= 8:
        tid, pid, ln = struct.unpack(">HHH", payload[:6])
        if pid != 0 or not 2 <= ln <= 254 or 6 + ln > len(payload):
            break
        out.append(payload[: 6 + ln])
        payload = payload[6 + ln :]
    return out


def seeds_modbus(corpus, flows):
    for flow in flows.values():
        pending = {}
        for d, _ts, _seq, _ack, _flags, payload, sport, dport in flow["segs"]:
            for adu in modbus_adus(payload):
                corpus.add(b"\0" + adu)
                tid = adu[:2]
                if dport == 502:
                    pending[tid] = adu
                elif sport == 502 and tid in pending:
                    req = pending.pop(tid)
                    corpus.add(bytes([len(req) - 7]) + req[7:] + adu[7:])
                    if len(req) < 256:
                        corpus.add(bytes([len(req)]) + req + adu)


def seeds_sensor(corpus, raw, records, flows):
    corpus.add(b"\x01" + truncate_capture(raw, MAX_SEED - 1))
    if records and any(f[6] == 502 or f[7] == 502 for fl in flows.values() for f in fl["segs"]):
        # The same traffic as pcapng, where timestamps span the whole i64 range.
        corpus.add(b"\x01" + write_pcapng(records[:200]))
    # Crafted mode: port-502 flows replayed through the harness's own framing.
    for flow in flows.values():
        segs = flow["segs"]
        if not any(s[6] == 502 or s[7] == 502 for s in segs):
            continue
        out = bytearray(b"\0")
        real_next = [None, None]
        last_ts = segs[0][1]
        for d, ts, seq, ack, flags, payload, sport, _dport in segs:
            to_client = 1 if sport == 502 else 0
            step = min(15, max(0, (ts - last_ts) // 250_000_000))
            last_ts = ts
            if real_next[d] is None:
                real_next[d] = seq
            seq_off = (seq - real_next[d]) & 0xFFFFFFFF
            seq_off = seq_off - (1 << 32) if seq_off >= 1 << 31 else seq_off
            if not -32768 <= seq_off <= 32767:
                seq_off = 0
            ack_off = 0
            if real_next[1 - d] is not None:
                a = (ack - real_next[1 - d]) & 0xFFFFFFFF
                a = a - (1 << 32) if a >= 1 << 31 else a
                ack_off = a if -128 <= a <= 127 else 0
            real_next[d] = (seq + len(payload) + (1 if flags & 3 else 0)) & 0xFFFFFFFF
            ctl = (step << 4) | to_client
            rec = bytes([ctl, flags]) + struct.pack("<hb", seq_off, ack_off) + payload
            if len(out) + len(rec) + 2 > MAX_SEED:
                break
            out += struct.pack("<H", len(rec)) + rec
        corpus.add(out)


def main():
    default = os.environ.get("PLANTSHIELD_PCAPS") or str(FUZZ.parent.parent / "shared" / "pcaps")
    root = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    if not root.is_dir():
        sys.exit(f"seed.py: no capture folder at {root}")
    corpora = {t: Corpus(t) for t in ("capture_reader", "decode", "reassembly", "modbus", "sensor")}
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap"))
    for p in files:
        with open(p, "rb") as fh:
            raw = fh.read(8 << 20)  # the 52 MiB benchmark capture: its start is plenty
        records = list(read_capture(raw))
        flows = tcp_flows(records[:5000])
        seeds_capture_reader(corpora["capture_reader"], raw, records)
        seeds_decode(corpora["decode"], records)
        seeds_reassembly(corpora["reassembly"], dict(list(flows.items())[:20]))
        seeds_modbus(corpora["modbus"], flows)
        seeds_sensor(corpora["sensor"], raw, records, flows)
    ipv4_fragment_seeds(corpora["decode"])
    for cap in extreme_timestamp_captures():
        corpora["capture_reader"].add(cap)
        corpora["sensor"].add(b"\x01" + cap)
    for name, c in corpora.items():
        total = len(list(c.dir.iterdir()))
        print(f"{name}: {c.count} new seeds ({total} in {c.dir.relative_to(FUZZ.parent)})")


if __name__ == "__main__":
    main()
