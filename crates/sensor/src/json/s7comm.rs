//! The `s7comm` and `s7comm_plus` objects (docs/events.md).

use std::fmt::Write as _;

use plantshield_events::JsonWriter;
use plantshield_protocols::s7comm::codes::{
    block_language_name, block_type_name, cpu_mode_name, szl_name,
};
use plantshield_protocols::s7comm::cotp;
use plantshield_protocols::s7comm::pdu::{
    self, AckParam, AnyAddress, BlockFile, DataItems, JobParam, VarItems,
};
use plantshield_protocols::s7comm::plus::{Opcode, PlusPdu};
use plantshield_protocols::s7comm::userdata::{self, Component, UserdataParam, Version};
use plantshield_protocols::s7comm::{Area, ErrorCode, Flags, FunctionGroup, Pdu, Rosctr};

use super::Bounded;
use crate::event::{CotpConnect, S7commEvent, S7commPlusEvent};

/// Writes the `s7comm` object.
pub(super) fn write(w: &mut JsonWriter, e: &S7commEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("s7comm");
    w.u64_field("function_code", u64::from(e.ics.function_code));
    w.str_field("function", e.ics.function);
    rack_slot(w, e.rack_slot);
    if let Some(c) = &e.cotp {
        cotp_object(w, c);
        w.end_object();
        return;
    }
    let first = e.request.or(e.response);
    if let Some(p) = e.request {
        w.u64_field("rosctr", u64::from(p.header.rosctr.0));
        w.str_field("rosctr_name", p.header.rosctr.name());
    }
    if let Some(p) = e.response {
        w.u64_field("response_rosctr", u64::from(p.header.rosctr.0));
        w.str_field("response_rosctr_name", p.header.rosctr.name());
    }
    if let Some(p) = first {
        w.u64_field("pdu_reference", u64::from(p.header.pdu_ref));
    }
    let push = first.is_some_and(|p| userdata::is_push(&p));
    if first.is_some_and(|p| p.header.rosctr == Rosctr::USERDATA) {
        userdata_fields(w, e, &mut b);
    } else {
        job_fields(w, e, &mut b);
    }
    if let Some(r) = e.response {
        if let (Some(class), Some(code)) = (r.header.error_class, r.header.error_code) {
            w.u64_field("error_class", u64::from(class.0));
            w.str_field("error_class_name", class.name());
            w.u64_field("error_code", u64::from(code));
            if class.0 != 0 || code != 0 {
                w.str_field("error", r.header.error().name());
            }
        }
    }
    if e.request_pdus > 1 || e.response_pdus > 1 {
        w.u64_field("request_pdus", u64::from(e.request_pdus));
        w.u64_field("response_pdus", u64::from(e.response_pdus));
    }
    tail(
        w,
        e.request.is_none() && !push,
        e.response.is_none() && !push,
        b.truncated,
        e.latency_ns,
        e.flags,
    );
    w.end_object();
}

/// The fields every protocol object ends with.
fn tail(
    w: &mut JsonWriter,
    request_missing: bool,
    response_missing: bool,
    truncated: bool,
    latency_ns: Option<i64>,
    flags: Flags,
) {
    if request_missing {
        w.bool_field("request_missing", true);
    }
    if response_missing {
        w.bool_field("response_missing", true);
    }
    if truncated {
        w.bool_field("values_truncated", true);
    }
    if let Some(l) = latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if !flags.is_empty() {
        w.begin_array_field("flags");
        for n in flags.names() {
            w.str_value(n);
        }
        w.end_array();
    }
}

fn rack_slot(w: &mut JsonWriter, rs: Option<(u8, u8)>) {
    if let Some((rack, slot)) = rs {
        w.u64_field("rack", u64::from(rack));
        w.u64_field("slot", u64::from(slot));
    }
}

/// A TSAP: its text when printable, else hex.
fn tsap(w: &mut JsonWriter, key: &str, t: &[u8]) {
    if cotp::Tsap(t).is_text() {
        w.bytes_str_field(key, t);
    } else {
        w.hex_field(key, t);
    }
}

fn cotp_object(w: &mut JsonWriter, c: &CotpConnect<'_>) {
    w.begin_object_field("cotp");
    w.str_field(
        "tpdu",
        if c.disconnect {
            "disconnect_request"
        } else {
            "connection_request"
        },
    );
    if let Some(t) = c.calling_tsap {
        tsap(w, "calling_tsap", t);
    }
    if let Some(t) = c.called_tsap {
        tsap(w, "called_tsap", t);
        if let Some(ct) = cotp::Tsap(t).connection_type() {
            w.str_field("connection_type", ct);
        }
    }
    if let Some(s) = c.tpdu_size.filter(|s| (7..=13).contains(s)) {
        w.u64_field("tpdu_size", 1u64 << s);
    }
    if !c.disconnect {
        w.bool_field("confirmed", c.confirmed);
    }
    if let Some(r) = c.reason {
        w.u64_field("disconnect_reason", u64::from(r));
        w.str_field("disconnect_reason_name", cotp::disconnect_reason_name(r));
    }
    w.end_object();
}

/// `I0.0`, `M102.3`, `DB1.20.0`, `T5`: the address in STEP 7's operand style.
fn address_text(a: &AnyAddress) -> String {
    let mut s = String::new();
    match a.area.mnemonic() {
        Some(m) if a.area.numbered() => {
            let _ = write!(s, "{m}{}", a.byte_address);
        }
        Some(m @ ("DB" | "DI")) => {
            let _ = write!(s, "{m}{}.{}.{}", a.db_number, a.byte_address, a.bit_address);
        }
        Some(m) => {
            let _ = write!(s, "{m}{}.{}", a.byte_address, a.bit_address);
        }
        None => {
            let _ = write!(s, "area{}:{}.{}", a.area.0, a.byte_address, a.bit_address);
        }
    }
    s
}

/// `DB1`, `OB35`: a block by type and number.
fn block_text(f: &BlockFile<'_>) -> Option<String> {
    let t = block_type_name(f.block_type?)?;
    Some(format!("{t}{}", f.block_number?))
}

fn block_file(w: &mut JsonWriter, f: &BlockFile<'_>) {
    w.bytes_str_field("filename", f.raw);
    if let Some(b) = block_text(f) {
        w.str_field("block", &b);
    }
    if let Some(t) = f.block_type {
        match block_type_name(t) {
            Some(n) => w.str_field("block_type", n),
            None => w.u64_field("block_type_code", u64::from(t)),
        }
    }
    if let Some(n) = f.block_number {
        w.u64_field("block_number", u64::from(n));
    }
    if let Some(fs) = f.filesystem {
        w.str_field(
            "filesystem",
            match fs {
                b'P' => "passive",
                b'A' => "active",
                b'B' => "active_and_passive",
                _ => "unknown",
            },
        );
    }
}

/// Job and Ack-Data fields.
fn job_fields(w: &mut JsonWriter, e: &S7commEvent<'_>, b: &mut Bounded) {
    let job = e.request.and_then(|r| pdu::parse_job(r.param));
    let ack = e.response.and_then(|r| pdu::parse_ack(r.param));
    match job {
        Some(JobParam::Setup(s)) => {
            w.u64_field("max_amq_calling", u64::from(s.max_amq_calling));
            w.u64_field("max_amq_called", u64::from(s.max_amq_called));
            w.u64_field("pdu_length", u64::from(s.pdu_length));
        }
        Some(JobParam::ReadVar(items)) => var_items(w, e, items, false, b),
        Some(JobParam::WriteVar(items)) => var_items(w, e, items, true, b),
        Some(JobParam::BlockControl(f, bc)) => {
            if let Some(file) = &bc.file {
                block_file(w, file);
            }
            if matches!(f.0, 0x1e | 0x1f) {
                w.u64_field("upload_id", u64::from(bc.upload_id));
            }
            if let Some(n) = bc.load_memory_length {
                w.u64_field("load_memory_length", u64::from(n));
            }
            if let Some(n) = bc.mc7_length {
                w.u64_field("mc7_code_length", u64::from(n));
            }
        }
        Some(JobParam::Pi(_, pi)) => {
            w.bytes_str_field("pi_service", pi.service.0);
            w.str_field("pi_service_name", pi.service.name());
            if let Some(a) = pi.argument() {
                w.bytes_str_field("pi_argument", a);
            }
            let mut blocks = pi.blocks().peekable();
            if blocks.peek().is_some() {
                w.begin_array_field("blocks");
                for (i, f) in blocks.enumerate() {
                    if i >= b.max {
                        b.truncated = true;
                        break;
                    }
                    match block_text(&f) {
                        Some(t) => w.str_value(&t),
                        None => w.str_value(&String::from_utf8_lossy(f.raw)),
                    }
                }
                w.end_array();
            }
        }
        Some(JobParam::Other(_, p)) | Some(JobParam::Malformed(_, p)) => b.hex(w, "parameter", p),
        None => {}
    }
    match ack {
        Some(AckParam::Setup(s)) => {
            w.u64_field("negotiated_max_amq_calling", u64::from(s.max_amq_calling));
            w.u64_field("negotiated_max_amq_called", u64::from(s.max_amq_called));
            w.u64_field("negotiated_pdu_length", u64::from(s.pdu_length));
        }
        Some(AckParam::StartUpload {
            upload_id,
            block_length,
            ..
        }) => {
            w.u64_field("upload_id", u64::from(upload_id));
            if let Some(n) = block_length {
                w.u64_field("block_length", u64::from(n));
            }
        }
        Some(AckParam::BlockData(_, status)) => {
            w.bool_field("more_data", status & 1 != 0);
            if let Some((len, _)) = e.response.and_then(|r| pdu::block_data(r.data)) {
                w.u64_field("block_data_length", u64::from(len));
            }
        }
        Some(AckParam::Items(_, n)) if job.is_none() => {
            w.u64_field("item_count", u64::from(n));
            if let Some(r) = e.response {
                response_items(w, r, b);
            }
        }
        Some(AckParam::Other(_, p)) | Some(AckParam::Malformed(_, p)) if !p.is_empty() => {
            b.hex(w, "response_parameter", p)
        }
        _ => {}
    }
}

/// The items of Read Var and Write Var, with their values and return codes.
fn var_items(
    w: &mut JsonWriter,
    e: &S7commEvent<'_>,
    items: VarItems<'_>,
    write: bool,
    b: &mut Bounded,
) {
    w.u64_field("item_count", u64::from(items.count));
    let mut written = e.request.map(|r| DataItems::new(r.data));
    let mut read = match (write, e.response) {
        (false, Some(r)) => Some(DataItems::new(r.data)),
        _ => None,
    };
    let write_codes = match (write, e.response) {
        (true, Some(r)) => Some(r.data),
        _ => None,
    };
    w.begin_array_field("items");
    for (i, it) in items.iter().enumerate() {
        if i >= b.max {
            b.truncated = true;
            break;
        }
        w.begin_object();
        w.u64_field("syntax_id", u64::from(it.syntax_id));
        match &it.any {
            Some(a) => {
                w.str_field("address", &address_text(a));
                w.u64_field("area", u64::from(a.area.0));
                w.str_field("area_name", a.area.name());
                if matches!(a.area, Area::DATA_BLOCKS | Area::INSTANCE_DATA_BLOCKS) {
                    w.u64_field("db_number", u64::from(a.db_number));
                }
                w.u64_field("byte_address", u64::from(a.byte_address));
                w.u64_field("bit_address", u64::from(a.bit_address));
                w.u64_field("transport_size", u64::from(a.transport_size.0));
                w.str_field("transport_size_name", a.transport_size.name());
                w.u64_field("length", u64::from(a.length));
            }
            None => b.hex(w, "specification", it.spec),
        }
        if write {
            if let Some(d) = written.as_mut().and_then(Iterator::next) {
                b.hex(w, "value", d.value);
            }
            if let Some(&rc) = write_codes.and_then(|c| c.get(i)) {
                return_code(w, rc);
            }
        } else if let Some(d) = read.as_mut().and_then(Iterator::next) {
            return_code(w, d.return_code.0);
            if !d.value.is_empty() {
                b.hex(w, "value", d.value);
            }
        }
        w.end_object();
    }
    w.end_array();
}

/// Read Var data items of a response whose request was not seen.
fn response_items(w: &mut JsonWriter, r: Pdu<'_>, b: &mut Bounded) {
    w.begin_array_field("items");
    for (i, d) in DataItems::new(r.data).enumerate() {
        if i >= b.max {
            b.truncated = true;
            break;
        }
        w.begin_object();
        return_code(w, d.return_code.0);
        if !d.value.is_empty() {
            b.hex(w, "value", d.value);
        }
        w.end_object();
    }
    w.end_array();
}

fn return_code(w: &mut JsonWriter, rc: u8) {
    w.u64_field("return_code", u64::from(rc));
    w.str_field(
        "return_code_name",
        plantshield_protocols::s7comm::ReturnCode(rc).name(),
    );
}

/// Userdata fields: the parameter, then what the group's payloads say.
fn userdata_fields(w: &mut JsonWriter, e: &S7commEvent<'_>, b: &mut Bounded) {
    let qp = e.request.and_then(|r| userdata::parse_param(r.param));
    let rp = e.response.and_then(|r| userdata::parse_param(r.param));
    let Some(u) = qp.or(rp) else {
        return;
    };
    w.str_field("userdata_type", u.kind.name());
    w.u64_field("function_group", u64::from(u.group.0));
    w.str_field("function_group_name", u.group.name());
    if u.is_mode_transition() {
        w.u64_field("current_mode", u64::from(u.sub_function));
        w.str_field("current_mode_name", cpu_mode_name(u.sub_function));
    } else {
        w.u64_field("sub_function", u64::from(u.sub_function));
        w.str_field(
            "sub_function_name",
            u.group.sub_function_name(u.sub_function),
        );
    }
    w.u64_field("sequence_number", u64::from(u.sequence));
    if let Some(r) = rp {
        if let Some(d) = r.data_unit_ref {
            w.u64_field("data_unit_reference", u64::from(d));
        }
        if let Some(code) = r.error_code.filter(|c| c.0 != 0) {
            w.u64_field("userdata_error_code", u64::from(code.0));
            w.str_field("userdata_error", ErrorCode(code.0).name());
        }
    }
    let req_payload = e
        .request
        .and_then(|r| userdata::parse_data(r.data))
        .map(|d| d.payload);
    let resp_payload = e.payload.filter(|_| e.response.is_some() || push(e));
    payload_fields(w, &u, req_payload, resp_payload, e, b);
}

fn push(e: &S7commEvent<'_>) -> bool {
    e.request.is_some_and(|p| userdata::is_push(&p))
}

fn payload_fields(
    w: &mut JsonWriter,
    u: &UserdataParam,
    req: Option<&[u8]>,
    resp: Option<&[u8]>,
    e: &S7commEvent<'_>,
    b: &mut Bounded,
) {
    let resp = resp.filter(|p| !p.is_empty());
    let push = push(e);
    match (u.group, u.sub_function) {
        (FunctionGroup::CPU_FUNCTIONS, 1) if !push => {
            if let Some(r) = req.and_then(userdata::szl_request) {
                w.u64_field("szl_id", u64::from(r.id));
                w.u64_field("szl_index", u64::from(r.index));
                w.str_field("szl_name", szl_name(r.id));
            }
            if let Some(s) = resp.and_then(userdata::szl_response) {
                szl(w, &s, b);
            }
        }
        (FunctionGroup::BLOCK_FUNCTIONS, 1) => {
            if let Some(p) = resp {
                w.begin_object_field("block_counts");
                for c in userdata::block_counts(p) {
                    match c.block_type.and_then(block_type_name) {
                        Some(n) => w.u64_field(n, u64::from(c.count)),
                        None => {
                            let key = format!("type_{:02x}{:02x}", c.raw_type[0], c.raw_type[1]);
                            w.u64_field(&key, u64::from(c.count));
                        }
                    }
                }
                w.end_object();
            }
        }
        (FunctionGroup::BLOCK_FUNCTIONS, 2) => {
            if let Some(t) = req
                .and_then(|p| p.get(..2))
                .and_then(|t| userdata::block_type_code([t[0], t[1]]))
            {
                match block_type_name(t) {
                    Some(n) => w.str_field("block_type", n),
                    None => w.u64_field("block_type_code", u64::from(t)),
                }
            }
            if let Some(p) = resp {
                w.begin_array_field("block_list");
                for (i, x) in userdata::block_entries(p).enumerate() {
                    if i >= b.max {
                        b.truncated = true;
                        break;
                    }
                    w.begin_object();
                    w.u64_field("number", u64::from(x.number));
                    w.u64_field("flags", u64::from(x.flags));
                    w.str_field("language", block_language_name(x.language));
                    w.end_object();
                }
                w.end_array();
            }
        }
        (FunctionGroup::BLOCK_FUNCTIONS, 3) => {
            if let Some(f) = req.and_then(userdata::block_info_request) {
                block_file(w, &f);
            }
            if let Some(i) = resp.and_then(userdata::block_info) {
                w.begin_object_field("block_info");
                w.u64_field("flags", u64::from(i.flags));
                w.str_field("language", block_language_name(i.language));
                if let Some(n) = block_type_name(i.sub_block_type) {
                    w.str_field("sub_block_type", n);
                }
                w.u64_field("number", u64::from(i.number));
                w.u64_field("load_memory_length", u64::from(i.load_memory_length));
                w.bool_field("know_how_protected", i.block_security != 0);
                w.str_field(
                    "code_timestamp",
                    &userdata::block_timestamp(i.code_timestamp.0, i.code_timestamp.1),
                );
                w.str_field(
                    "interface_timestamp",
                    &userdata::block_timestamp(i.interface_timestamp.0, i.interface_timestamp.1),
                );
                w.u64_field("local_data_length", u64::from(i.local_data_length));
                w.u64_field("mc7_code_length", u64::from(i.mc7_length));
                w.bytes_str_field("author", i.author);
                w.bytes_str_field("family", i.family);
                w.bytes_str_field("name", i.name);
                w.str_field(
                    "version",
                    &format!("{}.{}", i.version >> 4, i.version & 0x0f),
                );
                w.u64_field("checksum", u64::from(i.checksum));
                w.end_object();
            }
        }
        (FunctionGroup::SECURITY, 1) => {
            // The password is obfuscated, not encrypted: never log it.
            w.bool_field("password_sent", req.is_some_and(|p| !p.is_empty()));
        }
        (FunctionGroup::TIME_FUNCTIONS, 1 | 3) => {
            if let Some(t) = resp.and_then(userdata::s7_time) {
                w.str_field("plc_time", &t.iso());
            }
        }
        (FunctionGroup::TIME_FUNCTIONS, 2 | 4) => {
            if let Some(t) = req.and_then(userdata::s7_time) {
                w.str_field("plc_time", &t.iso());
            }
        }
        _ => {
            if let Some(p) = req.filter(|p| !p.is_empty()) {
                b.hex(w, "data", p);
            }
            if let Some(p) = resp.filter(|_| !push) {
                b.hex(w, "response_data", p);
            }
        }
    }
}

/// The `szl` object of a read-SZL answer.
fn szl(w: &mut JsonWriter, s: &userdata::SzlResponse<'_>, b: &mut Bounded) {
    w.begin_object_field("szl");
    w.u64_field("id", u64::from(s.id));
    w.u64_field("index", u64::from(s.index));
    w.str_field("name", szl_name(s.id));
    w.u64_field("record_length", u64::from(s.record_length));
    w.u64_field("record_count", u64::from(s.record_count));
    match s.id & 0xff {
        0x11 if s.record_length >= 28 => {
            w.begin_array_field("module_identification");
            for r in s.records().filter_map(userdata::module_identification) {
                w.begin_object();
                w.u64_field("index", u64::from(r.index));
                w.str_field("index_name", r.index_name());
                w.bytes_str_field("order_number", r.order_number);
                w.u64_field("module_type_id", u64::from(r.module_type));
                match r.version() {
                    Version::Firmware(a, b, c) => w.str_field("version", &format!("V{a}.{b}.{c}")),
                    Version::Number(n) => w.str_field("version", &n.to_string()),
                }
                w.end_object();
            }
            w.end_array();
        }
        0x1c if s.record_length >= 34 => {
            w.begin_object_field("component_identification");
            for c in s.records().filter_map(userdata::component) {
                match c {
                    Component::Text(name, v) => w.bytes_str_field(name, v),
                    Component::Manufacturer {
                        manufacturer_id,
                        profile_id,
                        profile_specific_type,
                    } => {
                        w.u64_field("manufacturer_id", u64::from(manufacturer_id));
                        w.u64_field("profile_id", u64::from(profile_id));
                        w.u64_field("profile_specific_type", u64::from(profile_specific_type));
                    }
                    Component::Oem {
                        copyright,
                        oem_id,
                        oem_additional_id,
                    } => {
                        w.bytes_str_field("oem_copyright", copyright);
                        w.u64_field("oem_id", u64::from(oem_id));
                        w.u64_field("oem_additional_id", u64::from(oem_additional_id));
                    }
                    Component::Unknown(..) => {}
                }
            }
            w.end_object();
        }
        _ => b.hex(w, "records", s.records),
    }
    w.end_object();
}

/// Writes the `s7comm_plus` object.
pub(super) fn write_plus(w: &mut JsonWriter, e: &S7commPlusEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("s7comm_plus");
    w.u64_field("function_code", u64::from(e.ics.function_code));
    w.str_field("function", e.ics.function);
    rack_slot(w, e.rack_slot);
    if let Some(c) = &e.cotp {
        cotp_object(w, c);
        w.end_object();
        return;
    }
    if let Some(v) = e.version {
        w.u64_field("protocol_version", u64::from(v));
    }
    let first = e.request.or(e.response).or(e.notification);
    if let Some(p) = first {
        w.u64_field("opcode", u64::from(p.opcode.0));
        w.str_field("opcode_name", p.opcode.name());
        if p.digest.is_some() {
            w.bool_field("integrity_part", true);
        }
    }
    if let (Some(q), Some(r)) = (e.request, e.response) {
        if q.version != r.version {
            w.u64_field("response_protocol_version", u64::from(r.version));
        }
    }
    if let Some(s) = first.and_then(|p| p.sequence) {
        w.u64_field("sequence_number", u64::from(s));
    }
    if let Some(q) = e.request {
        request_plus(w, &q, &mut b);
    }
    if let Some(r) = e.response {
        if let Some(v) = r.return_value {
            w.u64_field("return_value", v);
            if r.is_error() {
                if let Some(c) = r.error_code() {
                    w.i64_field("error_code", i64::from(c));
                }
            }
        }
    }
    if let Some(n) = e.notification {
        if let Some(id) = n.subscription_id {
            w.u64_field("subscription_id", u64::from(id));
        }
    }
    if e.request_fragments > 1 || e.response_fragments > 1 {
        w.u64_field("request_fragments", u64::from(e.request_fragments));
        w.u64_field("response_fragments", u64::from(e.response_fragments));
    }
    if e.download {
        w.bool_field("download", true);
    }
    if e.no_response_expected {
        w.bool_field("no_response_expected", true);
    }
    let standalone = e.notification.is_some() || e.version.is_some() && first.is_none();
    tail(
        w,
        e.request.is_none() && !standalone,
        e.response.is_none() && !standalone && !e.no_response_expected,
        b.truncated,
        e.latency_ns,
        e.flags,
    );
    w.end_object();
}

fn request_plus(w: &mut JsonWriter, q: &PlusPdu<'_>, b: &mut Bounded) {
    if q.opcode != Opcode::REQUEST {
        return;
    }
    if let Some(s) = q.session_id {
        w.u64_field("session_id", u64::from(s));
    }
    if let Some(f) = q.transport_flags {
        w.u64_field("transport_flags", u64::from(f));
    }
    if let Some(o) = q.object_id() {
        w.u64_field("object_id", u64::from(o));
    }
    if let Some(sv) = q.set_variable() {
        w.begin_array_field("attribute_ids");
        for (i, a) in sv.addresses().iter().enumerate() {
            if i >= b.max {
                b.truncated = true;
                break;
            }
            w.u64_value(u64::from(*a));
        }
        w.end_array();
        w.u64_field("value_datatype", u64::from(sv.datatype));
        if let Some(v) = sv.value {
            w.u64_field("value", v);
        }
    }
}
