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


def transport_of(link, f):
    """(proto, src, dst, sport, dport, seq, flags, payload) of an unfragmented
    TCP (6) or UDP (17) packet, or None."""
    n = network(link, f)
    if n is None:
        return None
    et, off = n
    b = f[off:]
    if et == 0x0800 and len(b) >= 20 and b[0] >> 4 == 4:
        ihl = (b[0] & 15) * 4
        total = struct.unpack(">H", b[2:4])[0]
        frag = struct.unpack(">H", b[6:8])[0]
        if frag & 0x3FFF or total < ihl or total > len(b):
            return None
        proto, src, dst, seg = b[9], b[12:16], b[16:20], b[ihl:total]
    elif et == 0x86DD and len(b) >= 40 and b[0] >> 4 == 6:
        plen = struct.unpack(">H", b[4:6])[0]
        if 40 + plen > len(b):
            return None
        proto, src, dst, seg = b[6], b[8:24], b[24:40], b[40 : 40 + plen]
    else:
        return None
    if proto == 6:
        t = tcp_of(link, f)
        if t is None:
            return None
        src, dst, sport, dport, seq, _ack, flags, payload = t
        return 6, src, dst, sport, dport, seq, flags, payload
    if proto == 17 and len(seg) >= 8:
        sport, dport, ulen = struct.unpack(">HHH", seg[:6])
        payload = seg[8:ulen] if 8 <= ulen <= len(seg) else seg[8:]
        return 17, src, dst, sport, dport, 0, 0, payload
    return None


def conversations(records, tcp_ports=(), udp_ports=()):
    """The TCP streams and UDP exchanges on the given server ports, one list
    per connection or port pair: [(from_server, udp, ts, payload)], TCP
    payloads in sequence without retransmitted octets. For UDP flows where
    both ends use a server port, the first sender is the client."""
    convs, order = {}, []
    for link, ts, f in records:
        t = transport_of(link, f)
        if t is None:
            continue
        proto, src, dst, sport, dport, seq, flags, payload = t
        ports = tcp_ports if proto == 6 else udp_ports
        if sport not in ports and dport not in ports:
            continue
        a, b = (src, sport), (dst, dport)
        key = (proto, min(a, b), max(a, b))
        c = convs.get(key)
        if c is None:
            if proto == 6 and flags & 0x02 and not flags & 0x10:
                c = {"client": a}
            elif proto == 6 and flags & 0x02:
                c = {"client": b}
            elif dport in ports and sport not in ports:
                c = {"client": a}
            elif sport in ports and dport not in ports:
                c = {"client": b}
            else:
                c = {"client": a}
            c.update(msgs=[], next={})
            convs[key] = c
            order.append(key)
        from_server = 0 if a == c["client"] else 1
        if proto == 6:
            if flags & 0x02:
                c["next"][from_server] = (seq + 1) & 0xFFFFFFFF
                continue
            nxt = c["next"].get(from_server)
            if nxt is not None:
                skip = (nxt - seq) & 0xFFFFFFFF
                if skip >= 0x80000000:
                    skip = 0  # a gap: take the segment as it is
                if skip >= len(payload):
                    continue
                payload = payload[skip:]
                seq = (seq + skip) & 0xFFFFFFFF
            c["next"][from_server] = (seq + len(payload)) & 0xFFFFFFFF
            if not payload:
                continue
        c["msgs"].append((from_server, proto == 17, ts, payload))
    return [convs[k]["msgs"] for k in order if convs[k]["msgs"]]


def conversation_input(mode, msgs, max_records=64):
    """The shared conversation format of fuzz/src/lib.rs: a mode byte, then
    records [ctl][len u16 LE][payload]; ctl bit 0 from the server, bit 1
    UDP, bits 4-7 time steps of 250 ms."""
    out = bytearray([mode])
    last = msgs[0][2] if msgs else 0
    for from_server, udp, ts, payload in msgs[:max_records]:
        step = min(15, max(0, (ts - last) // 250_000_000))
        last = ts
        rec = bytes([(step << 4) | (2 if udp else 0) | from_server])
        rec += struct.pack("<H", len(payload)) + payload
        if len(out) + len(rec) > MAX_SEED:
            break
        out += rec
    return bytes(out)


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


def seeds_dnp3(corpus, records):
    """DNP3 link frames of every TCP and UDP conversation on port 20000."""
    for msgs in conversations(records, (20000,), (20000,))[:40]:
        corpus.add(conversation_input(0, msgs))
        # Each direction's first messages alone, for the parsers.
        for d in (0, 1):
            side = [m for m in msgs if m[0] == d][:4]
            if side:
                corpus.add(conversation_input(0, side))


def s7comm_session(msgs):
    """The s7comm target's segment layout: a control octet per segment,
    bit 0 the direction, the other bits the length minus one (1-128)."""
    out = bytearray()
    for from_server, _udp, _ts, payload in msgs:
        for i in range(0, len(payload), 128):
            piece = payload[i : i + 128]
            out += bytes([((len(piece) - 1) << 1) | from_server]) + piece
        if len(out) > MAX_SEED - 200:
            break
    return bytes(out)


def seeds_s7comm(corpus, records):
    """TPKT/COTP payloads of every port-102 connection: the conversation,
    and each TPKT alone (the parsers see the whole input)."""
    for msgs in conversations(records, (102,))[:40]:
        corpus.add(s7comm_session(msgs))
        for _d, _u, _t, payload in msgs[:60]:
            corpus.add(payload)


def iec104_session(msgs):
    """The iec104 target's layout: a head octet per segment with the length
    (0-63) in bits 0-5, 31 s later when bit 6, from the server when bit 7."""
    out = bytearray()
    last = msgs[0][2] if msgs else 0
    for from_server, _udp, ts, payload in msgs:
        late = 0x40 if ts - last >= 31_000_000_000 else 0
        last = ts
        for i in range(0, len(payload), 63):
            piece = payload[i : i + 63]
            out += bytes([len(piece) | late | (0x80 if from_server else 0)]) + piece
            late = 0
        if len(out) > MAX_SEED - 200:
            break
    return bytes(out)


def seeds_iec104(corpus, records):
    """IEC 104 APDUs of every port-2404 connection."""
    for msgs in conversations(records, (2404,))[:40]:
        corpus.add(iec104_session(msgs))
        for _d, _u, _t, payload in msgs[:40]:
            corpus.add(payload)


def seeds_enip(corpus, records):
    """ENIP encapsulation messages (TCP and UDP 44818) and CIP I/O (UDP
    2222): whole messages behind an even mode byte (parsers only), and each
    conversation as odd-mode records [len u8][ctl][payload] (TCP payloads cut
    to 254 octets; datagrams kept to their first 254)."""
    for msgs in conversations(records, (44818,), (44818, 2222))[:40]:
        out = bytearray(b"\x01")
        last = msgs[0][2]
        for from_server, udp, ts, payload in msgs:
            step = min(15, max(0, (ts - last) // 500_000_000))
            last = ts
            if not udp:
                corpus.add(b"\0" + payload)
            pieces = [payload[:254]] if udp else [payload[i : i + 254] for i in range(0, len(payload), 254)]
            for piece in pieces:
                ctl = (step << 4) | from_server
                if udp:
                    ctl |= 2 | (4 if len(payload) and payload[:2] != b"\x63\x00" and payload[:2] != b"\x04\x00" else 0)
                out += bytes([len(piece) + 1, ctl]) + piece
                step = 0
            if len(out) > MAX_SEED - 300:
                break
        corpus.add(out)


def dns_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_message(ident, flags, questions, answers=(), authority=(), additional=()):
    """A DNS message: questions (name, type), records (name bytes, type,
    ttl, rdata)."""
    out = struct.pack(">HHHHHH", ident, flags, len(questions), len(answers), len(authority),
                      len(additional))
    for name, qtype in questions:
        out += dns_name(name) + struct.pack(">HH", qtype, 1)
    for section in (answers, authority, additional):
        for name, rtype, ttl, rdata in section:
            out += name + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return out


def crafted_dns():
    """Query/response pairs the public captures lack: A with a CNAME chain
    (compressed names), AAAA, MX, SRV, TXT, PTR, NXDOMAIN."""
    ptr = b"\xc0\x0c"  # the question name
    pairs = []
    q = dns_message(0x1234, 0x0100, [("plc1.plant.example", 1)])
    r = dns_message(0x1234, 0x8180, [("plc1.plant.example", 1)],
                    [(ptr, 5, 300, dns_name("web.plant.example")),
                     (b"\xc0\x30", 1, 300, bytes([192, 0, 2, 7])),
                     (b"\xc0\x30", 28, 300, bytes.fromhex("20010db8000000000000000000000007"))])
    pairs.append((q, r))
    q = dns_message(7, 0x0100, [("plant.example", 15)])
    r = dns_message(7, 0x8580, [("plant.example", 15)],
                    [(ptr, 15, 3600, struct.pack(">H", 10) + dns_name("mail.plant.example"))],
                    [(ptr, 2, 3600, dns_name("ns1.plant.example"))],
                    [(dns_name("ns1.plant.example"), 1, 3600, bytes([192, 0, 2, 53]))])
    pairs.append((q, r))
    q = dns_message(8, 0x0100, [("_opcua-tcp._tcp.plant.example", 33)])
    r = dns_message(8, 0x8180, [("_opcua-tcp._tcp.plant.example", 33)],
                    [(ptr, 33, 60, struct.pack(">HHH", 0, 5, 4840) + dns_name("hmi.plant.example")),
                     (ptr, 16, 60, b"\x0bpath=/ua/ok\x05x=y=z")])
    pairs.append((q, r))
    q = dns_message(9, 0x0100, [("7.2.0.192.in-addr.arpa", 12)])
    r = dns_message(9, 0x8183, [("7.2.0.192.in-addr.arpa", 12)])
    pairs.append((q, r))
    r = dns_message(9, 0x8180, [("7.2.0.192.in-addr.arpa", 12)],
                    [(ptr, 12, 60, dns_name("historian.plant.example"))])
    pairs.append((q, r))
    return pairs


def seeds_dns(corpus, records, crafted=False):
    """DNS-format datagrams of the captures (LLMNR on 5355, NetBIOS name
    service on 137, mDNS on 5353, DNS on 53) replayed as DNS over UDP, and,
    once, the crafted pairs over UDP and over TCP (two-octet lengths)."""
    for msgs in conversations(records, (53,), (53, 137, 5353, 5355))[:30]:
        corpus.add(conversation_input(0, [(d, True, t, p) for d, _u, t, p in msgs], 16))
    if crafted:
        for q, r in crafted_dns():
            corpus.add(conversation_input(0, [(0, True, 0, q), (1, True, 10**7, r)]))
            framed = [(0, False, 0, struct.pack(">H", len(q)) + q),
                      (1, False, 10**7, struct.pack(">H", len(r)) + r)]
            corpus.add(conversation_input(0, framed))


def seeds_netbios(corpus, records):
    """NetBIOS name service datagrams (UDP 137) of every conversation."""
    for msgs in conversations(records, (), (137,))[:60]:
        corpus.add(conversation_input(0, msgs, 16))


def seeds_dhcp(corpus, records):
    """DHCP datagrams (UDP 67/68), each conversation, and each message alone."""
    for msgs in conversations(records, (), (67, 68))[:40]:
        corpus.add(conversation_input(0, msgs, 16))
        for m in msgs[:8]:
            corpus.add(conversation_input(0, [m]))


def crafted_http():
    """Request/response exchanges: a head past the field and size caps,
    Content-Length, chunked with trailers, HEAD, 304, pipelined requests, a
    POST with a body."""
    req = b"GET /status.html HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n"
    res = b"HTTP/1.1 200 OK\r\nServer: GoAhead-Webs\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>"
    chunked = (b"HTTP/1.1 200 OK\r\nServer: lighttpd/1.4\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n")
    head = b"HEAD / HTTP/1.1\r\nHost: plc\r\n\r\n"
    res304 = b"HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n"
    post = b"POST /cgi-bin/write HTTP/1.0\r\nContent-Length: 11\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nvalue=42&x=1"
    res10 = b"HTTP/1.0 200 OK\r\nServer: Boa/0.94\r\n\r\nuntil close"
    # Past MAX_HEADERS (128 fields) and MAX_HEAD_LEN (16 KiB): 150 fields
    # of 115 octets, in segments of 4 KiB.
    big = b"GET /trend HTTP/1.1\r\n" + b"".join(
        b"X-Field-%03d: %s\r\n" % (i, b"v" * 100) for i in range(150)) + b"\r\n"
    return [
        [(0, big[i : i + 4096]) for i in range(0, len(big), 4096)] + [(1, res)],
        [(0, req), (1, res)],
        [(0, req), (1, chunked[:40]), (1, chunked[40:])],
        [(0, head + req), (1, res304 + res)],
        [(0, post[:30]), (0, post[30:]), (1, res10)],
    ]


def seeds_http(corpus, records, crafted=False):
    """HTTP heads: TCP conversations on port 80 and 8080, SSDP (HTTP over UDP
    1900) datagrams replayed as one TCP stream, the crafted exchanges."""
    for msgs in conversations(records, (80, 8080))[:30]:
        corpus.add(conversation_input(0, [(d, False, t, p) for d, _u, t, p in msgs]))
    for msgs in conversations(records, (), (1900,))[:10]:
        corpus.add(conversation_input(0, [(d, False, t, p) for d, _u, t, p in msgs], 8))
    if crafted:
        for ex in crafted_http():
            msgs = [(d, False, i * 10**7, p) for i, (d, p) in enumerate(ex)]
            corpus.add(conversation_input(0, msgs))
            corpus.add(conversation_input(1, msgs))


def seeds_bacnet(corpus, records):
    """BACnet/IP datagrams (UDP 47808) of every conversation, and each of
    the first datagrams alone."""
    for msgs in conversations(records, (), (47808,))[:40]:
        corpus.add(conversation_input(0, msgs, 32))
        for m in msgs[:6]:
            corpus.add(conversation_input(0, [m]))


def seeds_opcua(corpus, records):
    """OPC UA Binary connections (TCP 4840)."""
    for msgs in conversations(records, (4840,))[:40]:
        corpus.add(conversation_input(0, msgs))


def seeds_profinet_dcp(corpus, records):
    """PROFINET DCP frames (EtherType 0x8892 with a DCP frame id): the
    payload from the frame id on, the first sender as the controller."""
    frames = []
    for link, ts, f in records:
        if link != 1 or len(f) < 16:
            continue
        n = network(link, f)
        if n is None or n[0] != 0x8892:
            continue
        payload = f[n[1] :]
        if len(payload) < 2 or not 0xFEFC <= struct.unpack(">H", payload[:2])[0] <= 0xFEFF:
            continue
        frames.append((ts, f[6:12], f[0] & 1, n[1] > 14, payload))
    if not frames:
        return
    controller = frames[0][1]
    for start in range(0, min(len(frames), 256), 32):
        out = bytearray(b"\0")
        last = frames[start][0]
        for ts, src, multicast, tagged, payload in frames[start : start + 32]:
            step = min(15, max(0, (ts - last) // 250_000_000))
            last = ts
            ctl = (step << 4) | (4 if tagged else 0) | (2 if multicast else 0)
            ctl |= 0 if src == controller else 1
            out += bytes([ctl]) + struct.pack("<H", len(payload)) + payload
        corpus.add(out)
    for ts, src, multicast, tagged, payload in frames[:16]:
        corpus.add(b"\0" + bytes([(2 if multicast else 0) | (0 if src == controller else 1)])
                   + struct.pack("<H", len(payload)) + payload)


def main():
    default = os.environ.get("PLANTSHIELD_PCAPS") or str(FUZZ.parent.parent / "shared" / "pcaps")
    root = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    if not root.is_dir():
        sys.exit(f"seed.py: no capture folder at {root}")
    targets = ("capture_reader", "decode", "reassembly", "modbus", "sensor", "dnp3", "s7comm",
               "iec104", "enip", "dns", "netbios", "dhcp", "http", "bacnet", "opcua",
               "profinet_dcp")
    corpora = {t: Corpus(t) for t in targets}
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
        some = records[:20000]
        seeds_dnp3(corpora["dnp3"], some)
        seeds_s7comm(corpora["s7comm"], some)
        seeds_iec104(corpora["iec104"], some)
        seeds_enip(corpora["enip"], some)
        seeds_dns(corpora["dns"], some)
        seeds_netbios(corpora["netbios"], some)
        seeds_dhcp(corpora["dhcp"], some)
        seeds_http(corpora["http"], some)
        seeds_bacnet(corpora["bacnet"], some)
        seeds_opcua(corpora["opcua"], some)
        seeds_profinet_dcp(corpora["profinet_dcp"], some)
    ipv4_fragment_seeds(corpora["decode"])
    seeds_dns(corpora["dns"], [], crafted=True)
    seeds_http(corpora["http"], [], crafted=True)
    for cap in extreme_timestamp_captures():
        corpora["capture_reader"].add(cap)
        corpora["sensor"].add(b"\x01" + cap)
    for name, c in corpora.items():
        total = len(list(c.dir.iterdir()))
        print(f"{name}: {c.count} new seeds ({total} in {c.dir.relative_to(FUZZ.parent)})")


if __name__ == "__main__":
    main()
