//! `gen-iec104`: control centres and substation RTUs talking IEC
//! 60870-5-104 over TCP port 2404.
//!
//! Sequence numbers are exact both ways: every I-format APDU carries the
//! sender's N(S) and, as N(R), the count of I-format APDUs it received; the
//! controlling station acknowledges with an S-format APDU after w = 8
//! received I-format APDUs, or when its t2 (1-10 s) runs out first, so the
//! RTU never has more than k = 12 unacknowledged.
//!
//! Each RTU (common address, single points, double points, measured values
//! as short floats, scaled or normalised values, single, double and
//! set-point command objects) serves two controlling stations. Four
//! connections in five are active:
//!
//! - STARTDT act / con; on the first connection after the RTU's start an
//!   end of initialisation (M_EI_NA_1); a station interrogation (C_IC_NA_1
//!   act, actcon, the whole image with cause inrogen as M_SP_NA_1,
//!   M_DP_NA_1 and M_ME_N*_1 sequences, actterm), again every 5-30 min;
//!   half the stations synchronise the clock (C_CS_NA_1) at start and
//!   every 10-60 min.
//! - Half the RTUs send their measured values cyclically every 2-30 s
//!   (cause per/cyc); all report changes spontaneously (0.5-30 s apart on
//!   average), with CP56Time2a time tags (M_SP_TB_1, M_DP_TB_1,
//!   M_ME_TF_1, M_ME_TE_1) or without.
//! - Three stations in ten are operator consoles that command every 30 s
//!   to 10 min: single and double commands, half of them select before
//!   operate, and float or scaled set-points (a fifth of them with time
//!   tags, C_*_TA_1 and C_SE_TC_1); the RTU confirms (ACTCON), reports the
//!   new state (return information, cause retrem) and terminates
//!   (ACTTERM). One command in a hundred is refused (negative ACTCON).
//!
//! The fifth connection is the standby connection of the redundancy
//! group: never started, only tested with TESTFR. An active connection
//! silent for t3 (20-30 s) is tested too. A station closing its connection
//! stops data transfer first (STOPDT act / con).

use plantshield_protocols::iec104::{emit_apdu, Control, UFunction};

use super::{answer_ns, civil, exp_ns, log_ns, log_uniform, Ctx, Protocol, MS, SEC, US};
use crate::rng::Rng;

/// TCP port of IEC 104.
pub const PORT: u16 = 2404;
/// RTUs by default (two controlling stations each with 2000 connections).
pub const DEFAULT_SERVERS: usize = 1000;

/// Acknowledge after this many received I-format APDUs.
const W: u16 = 8;
/// Largest ASDU (253 octets of APDU less the control field).
const MAX_ASDU: usize = 249;

const COT_PERIODIC: u8 = 1;
const COT_SPONTANEOUS: u8 = 3;
const COT_INIT: u8 = 4;
const COT_ACT: u8 = 6;
const COT_ACTCON: u8 = 7;
const COT_ACTTERM: u8 = 10;
const COT_RETREM: u8 = 11;
const COT_INROGEN: u8 = 20;
/// P/N: a negative confirmation.
const NEGATIVE: u8 = 0x40;

const M_SP_NA_1: u8 = 1;
const M_DP_NA_1: u8 = 3;
const M_ME_NA_1: u8 = 9;
const M_ME_NB_1: u8 = 11;
const M_ME_NC_1: u8 = 13;
const M_SP_TB_1: u8 = 30;
const M_DP_TB_1: u8 = 31;
const M_ME_TD_1: u8 = 34;
const M_ME_TE_1: u8 = 35;
const M_ME_TF_1: u8 = 36;
const C_SC_NA_1: u8 = 45;
const C_DC_NA_1: u8 = 46;
const C_SE_NB_1: u8 = 49;
const C_SE_NC_1: u8 = 50;
const C_SC_TA_1: u8 = 58;
const C_DC_TA_1: u8 = 59;
const C_SE_TC_1: u8 = 63;
const M_EI_NA_1: u8 = 70;
const C_IC_NA_1: u8 = 100;
const C_CS_NA_1: u8 = 103;

const SP_BASE: u32 = 1001;
const DP_BASE: u32 = 2001;
const ME_BASE: u32 = 3001;
const SC_BASE: u32 = 5001;
const DC_BASE: u32 = 5501;
const SE_BASE: u32 = 6001;

/// A remote terminal unit.
pub struct Rtu {
    ca: u16,
    /// Single points (SIQ: SPI in bit 0).
    sp: Vec<u8>,
    /// Double points (DIQ: 1 off, 2 on).
    dp: Vec<u8>,
    /// Measured values in engineering units.
    me: Vec<f32>,
    /// Type of measured values without time: 13 float, 11 scaled, 9 normalised.
    me_type: u8,
    setpoints: usize,
    latency: i64,
    /// Spontaneous data carry CP56Time2a time tags.
    time_tags: bool,
    /// Period of cyclic measured values (0: none).
    cyclic_ns: i64,
    /// Mean time between spontaneous changes.
    spont_mean: f64,
    /// Not yet reported its end of initialisation.
    restart: bool,
}

/// A controlling station's connection.
pub struct Station {
    standby: bool,
    started: bool,
    /// Next N(S) of the station and of the RTU.
    c_ns: u16,
    s_ns: u16,
    /// RTU I-frames the station has not acknowledged yet, since when.
    unacked: u16,
    first_unacked: i64,
    /// Last frame the station received.
    last_rx: i64,
    t2: i64,
    t3: i64,
    think: i64,
    next_cyclic: i64,
    next_spont: i64,
    command_ns: i64,
    next_command: i64,
    gi_ns: i64,
    next_gi: i64,
    clock_ns: i64,
    next_clock: i64,
}

/// The IEC 104 generator's scratch buffers.
#[derive(Default)]
pub struct Iec104 {
    asdu: Vec<u8>,
    out: Vec<u8>,
}

type X<'a, 'b> = &'a mut Ctx<'b, Rtu, Station>;

fn push_ioa(a: &mut Vec<u8>, ioa: u32) {
    a.extend_from_slice(&ioa.to_le_bytes()[..3]);
}

/// CP56Time2a of `t`.
fn push_cp56(a: &mut Vec<u8>, t: i64) {
    let (y, mo, d, h, mi, s, ms, wd) = civil(t);
    a.extend_from_slice(&(u16::from(s) * 1000 + ms).to_le_bytes());
    a.extend_from_slice(&[mi, h, d | (wd << 5), mo, (y % 100) as u8]);
}

/// Starts an ASDU: type, VSQ, cause, originator 0, common address.
fn header(a: &mut Vec<u8>, type_id: u8, vsq: u8, cot: u8, ca: u16) {
    a.clear();
    a.extend_from_slice(&[type_id, vsq, cot, 0]);
    a.extend_from_slice(&ca.to_le_bytes());
}

impl Rtu {
    /// Appends measured value `i` as an element of `type_id`.
    fn push_me(&self, a: &mut Vec<u8>, type_id: u8, i: usize) {
        let v = self.me[i];
        match type_id {
            M_ME_NC_1 | M_ME_TF_1 => a.extend_from_slice(&v.to_le_bytes()),
            M_ME_NB_1 | M_ME_TE_1 => a.extend_from_slice(&(v as i16).to_le_bytes()),
            _ => {
                // Normalised: full scale 0-1000 engineering units.
                let n = (v / 1000.0 * 32767.0).clamp(-32768.0, 32767.0) as i16;
                a.extend_from_slice(&n.to_le_bytes());
            }
        }
        a.push(0); // QDS: good
    }

    fn me_len(type_id: u8) -> usize {
        match type_id {
            M_ME_NC_1 => 5,
            _ => 3,
        }
    }
}

impl Iec104 {
    /// An I-format APDU from the RTU; the station acknowledges every w-th.
    fn rtu_i(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let c = &mut *x.conn;
        let send = c.s_ns;
        c.s_ns = (send + 1) & 0x7fff;
        self.out.clear();
        emit_apdu(
            Control::I {
                send,
                receive: c.c_ns,
            },
            &self.asdu,
            &mut self.out,
        );
        let t = x.wire.server(t, &self.out);
        let c = &mut *x.conn;
        c.last_rx = t;
        if c.unacked == 0 {
            c.first_unacked = t;
        }
        c.unacked += 1;
        if c.unacked >= W {
            let think = answer_ns(x.rng, c.think);
            self.s_frame(x, t + think);
        }
        t
    }

    /// An I-format APDU from the station (it acknowledges everything received).
    fn station_i(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let c = &mut *x.conn;
        let send = c.c_ns;
        c.c_ns = (send + 1) & 0x7fff;
        c.unacked = 0;
        self.out.clear();
        emit_apdu(
            Control::I {
                send,
                receive: c.s_ns,
            },
            &self.asdu,
            &mut self.out,
        );
        x.wire.client(t, &self.out)
    }

    fn s_frame(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        x.conn.unacked = 0;
        self.out.clear();
        emit_apdu(
            Control::S {
                receive: x.conn.s_ns,
            },
            &[],
            &mut self.out,
        );
        x.stats.msg("s_frame");
        x.wire.client(t, &self.out)
    }

    /// A U-format procedure: activation from the station (or the RTU),
    /// confirmation from the other side.
    fn u(&mut self, x: X<'_, '_>, t: i64, act: UFunction, by_rtu: bool, name: &'static str) -> i64 {
        self.out.clear();
        emit_apdu(Control::U(act), &[], &mut self.out);
        let t = x.wire.send(t, by_rtu, &self.out);
        self.out.clear();
        emit_apdu(Control::U(UFunction(act.0 << 1)), &[], &mut self.out);
        let lat = if by_rtu {
            answer_ns(x.rng, x.conn.think)
        } else {
            answer_ns(x.rng, x.srv.latency / 2)
        };
        let t = x.wire.send(t + lat, !by_rtu, &self.out);
        if !by_rtu {
            x.conn.last_rx = t;
        }
        x.stats.txn(name);
        t
    }

    /// The RTU sends the data of `type_id` in sequences (SQ=1) with `cot`,
    /// every point of `count`, each element written by `elem`.
    #[allow(clippy::too_many_arguments)]
    fn sequences(
        &mut self,
        x: X<'_, '_>,
        t: i64,
        type_id: u8,
        cot: u8,
        base: u32,
        count: usize,
        elem_len: usize,
        name: &'static str,
        elem: fn(&Rtu, &mut Vec<u8>, usize),
    ) -> i64 {
        let per = ((MAX_ASDU - 6 - 3) / elem_len).min(127);
        let mut t = t;
        let mut i = 0;
        while i < count {
            let n = per.min(count - i);
            header(&mut self.asdu, type_id, 0x80 | n as u8, cot, x.srv.ca);
            push_ioa(&mut self.asdu, base + i as u32);
            for k in i..i + n {
                elem(x.srv, &mut self.asdu, k);
            }
            t = self.rtu_i(x, t);
            x.stats.txn(name);
            t += x.rng.range_i64(100 * US, 800 * US);
            i += n;
        }
        t
    }

    /// Station interrogation: act, actcon, the image, actterm.
    fn interrogation(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let ca = x.srv.ca;
        header(&mut self.asdu, C_IC_NA_1, 1, COT_ACT, ca);
        push_ioa(&mut self.asdu, 0);
        self.asdu.push(20); // QOI: station interrogation
        let t = self.station_i(x, t);
        self.asdu[2] = COT_ACTCON;
        let lat = answer_ns(x.rng, x.srv.latency);
        let t = self.rtu_i(x, t + lat);
        x.stats.txn("c_ic_na_1");
        let mut t = t + x.rng.range_i64(500 * US, 5 * MS);
        let (nsp, ndp, nme) = (x.srv.sp.len(), x.srv.dp.len(), x.srv.me.len());
        t = self.sequences(
            x,
            t,
            M_SP_NA_1,
            COT_INROGEN,
            SP_BASE,
            nsp,
            1,
            "m_sp_na_1",
            |r, a, i| a.push(r.sp[i]),
        );
        t = self.sequences(
            x,
            t,
            M_DP_NA_1,
            COT_INROGEN,
            DP_BASE,
            ndp,
            1,
            "m_dp_na_1",
            |r, a, i| a.push(r.dp[i]),
        );
        let mt = x.srv.me_type;
        let name = match mt {
            M_ME_NC_1 => "m_me_nc_1",
            M_ME_NB_1 => "m_me_nb_1",
            _ => "m_me_na_1",
        };
        let len = Rtu::me_len(mt);
        let f: fn(&Rtu, &mut Vec<u8>, usize) = match mt {
            M_ME_NC_1 => |r, a, i| r.push_me(a, M_ME_NC_1, i),
            M_ME_NB_1 => |r, a, i| r.push_me(a, M_ME_NB_1, i),
            _ => |r, a, i| r.push_me(a, M_ME_NA_1, i),
        };
        t = self.sequences(x, t, mt, COT_INROGEN, ME_BASE, nme, len, name, f);
        header(&mut self.asdu, C_IC_NA_1, 1, COT_ACTTERM, ca);
        push_ioa(&mut self.asdu, 0);
        self.asdu.push(20);
        self.rtu_i(x, t)
    }

    /// Clock synchronisation: act with the station's time, actcon.
    fn clock(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        header(&mut self.asdu, C_CS_NA_1, 1, COT_ACT, x.srv.ca);
        push_ioa(&mut self.asdu, 0);
        push_cp56(&mut self.asdu, t);
        let t = self.station_i(x, t);
        let lat = answer_ns(x.rng, x.srv.latency);
        header(&mut self.asdu, C_CS_NA_1, 1, COT_ACTCON, x.srv.ca);
        push_ioa(&mut self.asdu, 0);
        push_cp56(&mut self.asdu, t + lat);
        x.stats.txn("c_cs_na_1");
        self.rtu_i(x, t + lat)
    }

    /// Cyclic measured values: all of them, in sequences.
    fn cyclic(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let n = x.srv.me.len();
        for k in 0..n.div_ceil(4) {
            let i = (k * 7 + x.rng.below(4) as usize) % n;
            x.srv.me[i] *= 0.995 + 0.01 * x.rng.unit() as f32;
        }
        let mt = x.srv.me_type;
        let name = match mt {
            M_ME_NC_1 => "m_me_nc_1",
            M_ME_NB_1 => "m_me_nb_1",
            _ => "m_me_na_1",
        };
        let f: fn(&Rtu, &mut Vec<u8>, usize) = match mt {
            M_ME_NC_1 => |r, a, i| r.push_me(a, M_ME_NC_1, i),
            M_ME_NB_1 => |r, a, i| r.push_me(a, M_ME_NB_1, i),
            _ => |r, a, i| r.push_me(a, M_ME_NA_1, i),
        };
        let len = Rtu::me_len(mt);
        self.sequences(x, t, mt, COT_PERIODIC, ME_BASE, n, len, name, f)
    }

    /// A spontaneous change of one to four points of one kind.
    fn spontaneous(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let tags = x.srv.time_tags;
        let n = match x.rng.below(10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => x.rng.range(3, 4) as usize,
        };
        let kind = x.rng.below(10);
        let ca = x.srv.ca;
        let srv = &mut *x.srv;
        let (type_id, name) = match (kind, tags) {
            (0..=2, true) => (M_SP_TB_1, "m_sp_tb_1"),
            (0..=2, false) => (M_SP_NA_1, "m_sp_na_1"),
            (3..=4, true) => (M_DP_TB_1, "m_dp_tb_1"),
            (3..=4, false) => (M_DP_NA_1, "m_dp_na_1"),
            (_, true) => match srv.me_type {
                M_ME_NC_1 => (M_ME_TF_1, "m_me_tf_1"),
                M_ME_NB_1 => (M_ME_TE_1, "m_me_te_1"),
                _ => (M_ME_TD_1, "m_me_td_1"),
            },
            (_, false) => match srv.me_type {
                M_ME_NC_1 => (M_ME_NC_1, "m_me_nc_1"),
                M_ME_NB_1 => (M_ME_NB_1, "m_me_nb_1"),
                _ => (M_ME_NA_1, "m_me_na_1"),
            },
        };
        header(&mut self.asdu, type_id, n as u8, COT_SPONTANEOUS, ca);
        for k in 0..n {
            // Changes happened a little before they are sent.
            let when = t - (n - k) as i64 * x.rng.range_i64(MS, 20 * MS);
            match type_id {
                M_SP_TB_1 | M_SP_NA_1 => {
                    let i = x.rng.below(srv.sp.len() as u64) as usize;
                    srv.sp[i] ^= 1;
                    push_ioa(&mut self.asdu, SP_BASE + i as u32);
                    self.asdu.push(srv.sp[i]);
                }
                M_DP_TB_1 | M_DP_NA_1 => {
                    let i = x.rng.below(srv.dp.len() as u64) as usize;
                    srv.dp[i] ^= 3;
                    push_ioa(&mut self.asdu, DP_BASE + i as u32);
                    self.asdu.push(srv.dp[i]);
                }
                _ => {
                    let i = x.rng.below(srv.me.len() as u64) as usize;
                    srv.me[i] *= 0.9 + 0.2 * x.rng.unit() as f32;
                    push_ioa(&mut self.asdu, ME_BASE + i as u32);
                    srv.push_me(&mut self.asdu, type_id, i);
                }
            }
            if tags {
                push_cp56(&mut self.asdu, when);
            }
        }
        x.stats.txn(name);
        self.rtu_i(x, t)
    }

    /// A command: select and execute, or direct execute; actcon, return
    /// information, actterm.
    fn command(&mut self, x: X<'_, '_>, t: i64) -> i64 {
        let ca = x.srv.ca;
        let tagged = x.rng.chance(200);
        let (nsp, ndp, nse) = (x.srv.sp.len(), x.srv.dp.len(), x.srv.setpoints);
        let kind = match x.rng.below(10) {
            0..=3 => 0,
            4..=6 => 1,
            _ if nse > 0 => 2,
            _ => 0,
        };
        // (type, name, ioa, element octets, S/E bit position or none)
        let mut elem = [0u8; 5];
        let (type_id, name, ioa, len, point) = match kind {
            0 => {
                let i = x.rng.below(nsp.min(32) as u64) as usize;
                let on = x.srv.sp[i] & 1 == 0;
                elem[0] = u8::from(on) | (x.rng.below(2) as u8) << 2;
                let (t, n) = if tagged {
                    (C_SC_TA_1, "c_sc_ta_1")
                } else {
                    (C_SC_NA_1, "c_sc_na_1")
                };
                (t, n, SC_BASE + i as u32, 1, Some((M_SP_TB_1, i)))
            }
            1 => {
                let i = x.rng.below(ndp.min(16) as u64) as usize;
                let on = x.srv.dp[i] != 2;
                elem[0] = if on { 2 } else { 1 } | (x.rng.below(2) as u8) << 2;
                let (t, n) = if tagged {
                    (C_DC_TA_1, "c_dc_ta_1")
                } else {
                    (C_DC_NA_1, "c_dc_na_1")
                };
                (t, n, DC_BASE + i as u32, 1, Some((M_DP_TB_1, i)))
            }
            _ => {
                let i = x.rng.below(nse as u64) as usize;
                if tagged || x.rng.chance(500) {
                    let v = x.rng.range(0, 1000) as f32 / 10.0;
                    elem[..4].copy_from_slice(&v.to_le_bytes());
                    let (t, n) = if tagged {
                        (C_SE_TC_1, "c_se_tc_1")
                    } else {
                        (C_SE_NC_1, "c_se_nc_1")
                    };
                    (t, n, SE_BASE + i as u32, 5, None)
                } else {
                    let v = x.rng.range(0, 4000) as i16;
                    elem[..2].copy_from_slice(&v.to_le_bytes());
                    (C_SE_NB_1, "c_se_nb_1", SE_BASE + i as u32, 3, None)
                }
            }
        };
        let sbo = point.is_some() && x.rng.chance(500);
        let refused = x.rng.chance(10);
        let mut t = t;
        let steps: &[bool] = if sbo { &[true, false] } else { &[false] };
        for (k, &select) in steps.iter().enumerate() {
            if k > 0 {
                t += x.rng.range_i64(50 * MS, 500 * MS);
            }
            let mut e = elem;
            if select {
                e[len - 1] |= 0x80; // S/E: select
            }
            header(&mut self.asdu, type_id, 1, COT_ACT, ca);
            push_ioa(&mut self.asdu, ioa);
            self.asdu.extend_from_slice(&e[..len]);
            if tagged {
                push_cp56(&mut self.asdu, t);
            }
            t = self.station_i(x, t);
            // The RTU mirrors the request.
            self.asdu[2] = COT_ACTCON | if refused { NEGATIVE } else { 0 };
            let lat = answer_ns(x.rng, x.srv.latency);
            t = self.rtu_i(x, t + lat);
            if refused {
                x.stats.txn_exception(name);
                return t;
            }
            x.stats.txn(name);
            if select {
                continue;
            }
            t += answer_ns(x.rng, x.srv.latency);
            if let Some((rt, i)) = point {
                // Return information: the point's new state.
                let srv = &mut *x.srv;
                let (rtype, rname, base, v) = if rt == M_SP_TB_1 {
                    srv.sp[i] = e[0] & 1;
                    (M_SP_TB_1, "m_sp_tb_1", SP_BASE, srv.sp[i])
                } else {
                    srv.dp[i] = e[0] & 3;
                    (M_DP_TB_1, "m_dp_tb_1", DP_BASE, srv.dp[i])
                };
                let (rtype, rname) = match (srv.time_tags, rtype) {
                    (true, _) => (rtype, rname),
                    (false, M_SP_TB_1) => (M_SP_NA_1, "m_sp_na_1"),
                    (false, _) => (M_DP_NA_1, "m_dp_na_1"),
                };
                header(&mut self.asdu, rtype, 1, COT_RETREM, ca);
                push_ioa(&mut self.asdu, base + i as u32);
                self.asdu.push(v);
                if srv.time_tags {
                    push_cp56(&mut self.asdu, t);
                }
                t = self.rtu_i(x, t);
                x.stats.txn(rname);
                t += answer_ns(x.rng, MS);
            }
            header(&mut self.asdu, type_id, 1, COT_ACTTERM, ca);
            push_ioa(&mut self.asdu, ioa);
            self.asdu.extend_from_slice(&e[..len]);
            if tagged {
                push_cp56(&mut self.asdu, t);
            }
            t = self.rtu_i(x, t);
        }
        t
    }
}

impl Protocol for Iec104 {
    type Server = Rtu;
    type Conn = Station;
    const PORT: u16 = PORT;
    const OUIS: &'static [[u8; 3]] = &[
        [0x00, 0x90, 0x4f], // ABB Power T&D
        [0x00, 0x21, 0xc1], // ABB Oy / Medium Voltage Products
        [0x00, 0x0e, 0x8c], // Siemens AG
        [0x00, 0x30, 0xa7], // Schweitzer Engineering
    ];

    fn server(&mut self, index: usize, rng: &mut Rng) -> Rtu {
        let nsp = log_uniform(rng, 16.0, 256.0) as usize;
        let ndp = log_uniform(rng, 4.0, 64.0) as usize;
        let nme = log_uniform(rng, 8.0, 300.0) as usize;
        Rtu {
            ca: 1 + index as u16,
            sp: (0..nsp).map(|_| u8::from(rng.chance(300))).collect(),
            dp: (0..ndp)
                .map(|_| if rng.chance(500) { 2 } else { 1 })
                .collect(),
            me: (0..nme)
                .map(|_| rng.range(0, 10_000) as f32 / 10.0)
                .collect(),
            me_type: match rng.below(10) {
                0..=5 => M_ME_NC_1,
                6..=8 => M_ME_NB_1,
                _ => M_ME_NA_1,
            },
            setpoints: if rng.chance(500) {
                rng.range(1, 8) as usize
            } else {
                0
            },
            latency: log_ns(rng, 5 * MS, 80 * MS),
            time_tags: rng.chance(700),
            cyclic_ns: if rng.chance(500) {
                log_ns(rng, 2 * SEC, 30 * SEC)
            } else {
                0
            },
            spont_mean: log_ns(rng, SEC / 2, 30 * SEC) as f64,
            restart: true,
        }
    }

    fn conn(&mut self, index: usize, _srv: &Rtu, rng: &mut Rng) -> Station {
        Station {
            standby: index % 5 == 4,
            started: false,
            c_ns: 0,
            s_ns: 0,
            unacked: 0,
            first_unacked: 0,
            last_rx: 0,
            t2: log_ns(rng, SEC, 10 * SEC),
            t3: rng.range_i64(20 * SEC, 30 * SEC),
            think: log_ns(rng, 100 * US, 2 * MS),
            next_cyclic: 0,
            next_spont: 0,
            command_ns: if rng.chance(300) {
                log_ns(rng, 30 * SEC, 600 * SEC)
            } else {
                0
            },
            next_command: 0,
            gi_ns: log_ns(rng, 300 * SEC, 1800 * SEC),
            next_gi: 0,
            clock_ns: if rng.chance(500) {
                log_ns(rng, 600 * SEC, 3600 * SEC)
            } else {
                0
            },
            next_clock: 0,
        }
    }

    fn open(&mut self, x: &mut Ctx<'_, Rtu, Station>, t: i64) {
        let c = &mut *x.conn;
        c.c_ns = 0;
        c.s_ns = 0;
        c.unacked = 0;
        c.started = false;
        c.last_rx = t;
        if c.standby {
            // The standby connection: tested only.
            let at = t + x.rng.range_i64(0, c.t3);
            self.u(x, at, UFunction::TESTFR_ACT, false, "testfr");
            return;
        }
        let t0 = t + x.rng.range_i64(MS, 10 * MS);
        let mut t = self.u(x, t0, UFunction::STARTDT_ACT, false, "startdt");
        x.conn.started = true;
        if x.srv.restart {
            x.srv.restart = false;
            header(&mut self.asdu, M_EI_NA_1, 1, COT_INIT, x.srv.ca);
            push_ioa(&mut self.asdu, 0);
            self.asdu.push(0); // COI: local power switch on
            let t0 = t + x.rng.range_i64(MS, 5 * MS);
            t = self.rtu_i(x, t0);
            x.stats.txn("m_ei_na_1");
        }
        let t0 = t + x.rng.range_i64(MS, 20 * MS);
        t = self.interrogation(x, t0);
        if x.conn.clock_ns > 0 {
            let t0 = t + x.rng.range_i64(5 * MS, 50 * MS);
            t = self.clock(x, t0);
        }
        let c = &mut *x.conn;
        let s = &*x.srv;
        c.next_cyclic = t + x.rng.range_i64(0, s.cyclic_ns.max(1));
        c.next_spont = t + exp_ns(x.rng, s.spont_mean);
        c.next_command = t + exp_ns(x.rng, c.command_ns as f64);
        c.next_gi = t + c.gi_ns;
        c.next_clock = t + c.clock_ns;
    }

    fn next(&mut self, x: &mut Ctx<'_, Rtu, Station>, t: i64) {
        #[derive(Clone, Copy)]
        enum What {
            Cyclic,
            Spontaneous,
            Command,
            Interrogation,
            Clock,
            Ack,
            Test,
        }
        let c = &*x.conn;
        let mut what = (i64::MAX, What::Test);
        if c.started {
            what = (c.next_spont, What::Spontaneous);
            let cands = [
                (x.srv.cyclic_ns > 0, c.next_cyclic, What::Cyclic),
                (c.command_ns > 0, c.next_command, What::Command),
                (true, c.next_gi, What::Interrogation),
                (c.clock_ns > 0, c.next_clock, What::Clock),
                (c.unacked > 0, c.first_unacked + c.t2, What::Ack),
            ];
            for (on, at, w) in cands {
                if on && at < what.0 {
                    what = (at, w);
                }
            }
        }
        if what.0 > c.last_rx + c.t3 {
            what = (c.last_rx + c.t3, What::Test);
        }
        let at = what.0.max(t + 20 * US);
        match what.1 {
            What::Cyclic => {
                self.cyclic(x, at);
                let s = x.srv.cyclic_ns;
                x.conn.next_cyclic = at + s;
            }
            What::Spontaneous => {
                self.spontaneous(x, at);
                let m = x.srv.spont_mean;
                x.conn.next_spont = at + exp_ns(x.rng, m);
            }
            What::Command => {
                self.command(x, at);
                let m = x.conn.command_ns as f64;
                x.conn.next_command = at + exp_ns(x.rng, m);
            }
            What::Interrogation => {
                self.interrogation(x, at);
                x.conn.next_gi = at + x.conn.gi_ns;
            }
            What::Clock => {
                self.clock(x, at);
                x.conn.next_clock = at + x.conn.clock_ns;
            }
            What::Ack => {
                self.s_frame(x, at);
            }
            What::Test => {
                self.u(x, at, UFunction::TESTFR_ACT, false, "testfr");
            }
        }
    }

    fn close(&mut self, x: &mut Ctx<'_, Rtu, Station>, t: i64, by_server: bool) {
        if by_server || !x.conn.started {
            return;
        }
        let mut t = t + x.rng.range_i64(MS, 20 * MS);
        if x.conn.unacked > 0 {
            t = self.s_frame(x, t);
        }
        let t0 = t + x.rng.range_i64(100 * US, MS);
        self.u(x, t0, UFunction::STOPDT_ACT, false, "stopdt");
        x.conn.started = false;
    }
}
