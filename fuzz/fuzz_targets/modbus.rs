//! Guards the pure Modbus/TCP parsers of `plantshield_protocols::modbus`:
//! `Mbap::parse`, `probe` (lenient and strict), `parse_request`,
//! `parse_response`, `check_pair`, and the lazy views (Read Device
//! Identification objects, file record sub-requests). They must never
//! panic, and every borrowed view must lie within the input.
//!
//! Input: `[k][request PDU: k bytes][response PDU: the rest]`; the request
//! and response parsers and the MBAP parser also see the whole input, and
//! the PDUs behind an MBAP header when there is one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_protocols::modbus::{
    check_pair, parse_request, parse_response, probe, FileSubRequests, Mbap, Request, RequestBody,
    Response, ResponseBody, MBAP_LEN,
};

fn within(outer: &[u8], inner: &[u8]) {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    assert!(inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len()));
}

fn files(pdu: &[u8], subs: FileSubRequests<'_>) {
    for s in subs {
        within(pdu, s.data);
        std::hint::black_box((s.reference_type, s.file_number, s.record_number));
        if !s.data.is_empty() {
            assert_eq!(s.data.len(), usize::from(s.record_length) * 2);
        }
    }
}

fn request(pdu: &[u8]) -> Request<'_> {
    let q = parse_request(pdu);
    std::hint::black_box((q.function.name(), q.function.kind(), q.body.target()));
    std::hint::black_box(q.function.operation(q.body.sub_code()));
    std::hint::black_box(q.flags.names().count());
    match q.body {
        RequestBody::ReadFileRecord { sub_requests, .. }
        | RequestBody::WriteFileRecord { sub_requests, .. } => files(pdu, sub_requests),
        RequestBody::Diagnostics { sub_function, data } => {
            within(pdu, data);
            std::hint::black_box(sub_function.name());
        }
        RequestBody::WriteMultipleCoils { values, .. }
        | RequestBody::WriteMultipleRegisters { values, .. }
        | RequestBody::ReadWriteMultipleRegisters { values, .. } => within(pdu, values),
        RequestBody::Mei { mei_type, data } => {
            within(pdu, data);
            std::hint::black_box(mei_type.name());
        }
        RequestBody::Other { data } | RequestBody::Malformed { data } => within(pdu, data),
        _ => {}
    }
    q
}

fn response(pdu: &[u8]) -> Response<'_> {
    let r = parse_response(pdu);
    std::hint::black_box((r.function.name(), r.exception, r.flags.names().count()));
    match r.body {
        ResponseBody::Exception { code } => {
            std::hint::black_box(code.name());
        }
        ResponseBody::ReadDeviceId(id) => {
            within(pdu, id.object_bytes);
            let mut n = 0usize;
            for (obj, val) in id.objects() {
                within(pdu, val);
                std::hint::black_box(obj.name());
                n += 1;
            }
            assert!(n <= usize::from(id.number_of_objects));
            std::hint::black_box(id.is_well_formed());
        }
        ResponseBody::WriteFileRecord { sub_requests, .. } => files(pdu, sub_requests),
        ResponseBody::ReadBits { values, .. }
        | ResponseBody::ReadRegisters { values, .. }
        | ResponseBody::ReadFifoQueue { values, .. } => within(pdu, values),
        ResponseBody::Diagnostics { data, .. }
        | ResponseBody::ReportServerId { data, .. }
        | ResponseBody::ReadFileRecord { data, .. }
        | ResponseBody::Mei { data, .. }
        | ResponseBody::Other { data }
        | ResponseBody::Malformed { data } => within(pdu, data),
        ResponseBody::CommEventLog { events, .. } => within(pdu, events),
        _ => {}
    }
    r
}

fn adu(b: &[u8]) {
    std::hint::black_box((probe(b, false), probe(b, true)));
    if let Ok(m) = Mbap::parse(b) {
        assert_eq!(m.protocol_id, 0);
        assert!((2..=254).contains(&m.length));
        assert!(m.adu_len() > MBAP_LEN);
        let mut out = Vec::new();
        m.emit(&mut out);
        assert_eq!(&out[..], &b[..MBAP_LEN]);
        let pdu = &b[MBAP_LEN..b.len().min(m.adu_len())];
        let q = request(pdu);
        let r = response(pdu);
        std::hint::black_box(check_pair(&q, &r));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let (req, resp) = rest.split_at(usize::from(k).min(rest.len()));
    let q = request(req);
    let r = response(resp);
    let f = check_pair(&q, &r);
    std::hint::black_box(f.names().count());
    adu(rest);
    adu(req);
    adu(resp);
    request(rest);
    response(rest);
});
