//! The `dns` and `netbios` objects.

use plantshield_events::JsonWriter;
use plantshield_protocols::dns::{Message, Name, RData, Record, Section, MAX_TEXT_LEN};
use plantshield_protocols::netbios::{self, NbHeader, NbName, NodeStatus};

use super::Bounded;
use crate::event::NameServiceEvent;

fn name_field(w: &mut JsonWriter, key: &str, n: &Name<'_>) {
    let mut buf = [0u8; MAX_TEXT_LEN];
    w.str_field(key, n.text(&mut buf));
}

fn flags_field<'a>(w: &mut JsonWriter, key: &str, names: impl Iterator<Item = &'a str>) {
    let mut names = names.peekable();
    if names.peek().is_some() {
        w.begin_array_field(key);
        for n in names {
            w.str_value(n);
        }
        w.end_array();
    }
}

fn common_tail(w: &mut JsonWriter, ev: &NameServiceEvent<'_>, b: &Bounded) {
    if ev.query.is_none() {
        w.bool_field("request_missing", true);
    }
    if ev.response.is_none() && !ev.broadcast {
        w.bool_field("response_missing", true);
    }
    if let Some(l) = ev.latency_ns {
        w.u64_field("latency_us", (l.max(0) / 1000) as u64);
    }
    if b.truncated {
        w.bool_field("values_truncated", true);
    }
    flags_field(w, "flags", ev.flags.names());
}

/// Writes `"dns":{...}`.
pub(crate) fn write(w: &mut JsonWriter, ev: &NameServiceEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("dns");
    let first = ev.query.or(ev.response);
    if let Some(m) = first {
        w.u64_field("id", u64::from(m.header.id));
        let op = m.header.opcode();
        w.u64_field("opcode", u64::from(op.0));
        w.str_field("opcode_name", op.name());
        // The question: the query's, else the one the response repeats.
        let q = ev
            .query
            .and_then(|q| q.question())
            .or(ev.response.and_then(|r| r.question()));
        if let Some(q) = q {
            name_field(w, "rrname", &q.name);
            w.u64_field("rrtype", u64::from(q.qtype.0));
            w.str_field("rrtype_name", q.qtype.name());
            w.u64_field("rrclass", u64::from(q.qclass));
        }
        if m.header.qdcount != 1 {
            w.u64_field("question_count", u64::from(m.header.qdcount));
        }
    }
    if let Some(q) = &ev.query {
        w.begin_object_field("query");
        w.bool_field("recursion_desired", q.header.recursion_desired());
        if q.header.checking_disabled() {
            w.bool_field("checking_disabled", true);
        }
        flags_field(w, "flags", q.flags.names());
        w.end_object();
    }
    if let Some(r) = &ev.response {
        w.begin_object_field("response");
        let h = r.header;
        w.u64_field("rcode", u64::from(h.rcode().0));
        w.str_field("rcode_name", h.rcode().name());
        w.bool_field("authoritative", h.authoritative());
        w.bool_field("truncated", h.truncated());
        w.bool_field("recursion_available", h.recursion_available());
        if h.authentic_data() {
            w.bool_field("authentic_data", true);
        }
        w.u64_field("answer_count", u64::from(h.ancount));
        w.u64_field("authority_count", u64::from(h.nscount));
        w.u64_field("additional_count", u64::from(h.arcount));
        w.begin_array_field("answers");
        let mut n = 0;
        for a in r.answers() {
            n += 1;
            if n > b.max {
                b.truncated = true;
                break;
            }
            answer(w, &a);
        }
        w.end_array();
        flags_field(w, "flags", r.flags.names());
        w.end_object();
    }
    common_tail(w, ev, &b);
    w.end_object();
}

fn answer(w: &mut JsonWriter, a: &Record<'_>) {
    w.begin_object();
    name_field(w, "rrname", &a.name);
    w.u64_field("rrtype", u64::from(a.rtype.0));
    w.str_field("rrtype_name", a.rtype.name());
    w.u64_field("ttl", u64::from(a.ttl));
    let mut buf = [0u8; MAX_TEXT_LEN];
    match a.data() {
        RData::A(ip) => w.ip_field("data", ip.into()),
        RData::Aaaa(ip) => w.ip_field("data", ip.into()),
        RData::Name(n) => w.str_field("data", n.text(&mut buf)),
        RData::Mx(p, n) => {
            w.u64_field("preference", u64::from(p));
            w.str_field("data", n.text(&mut buf));
        }
        RData::Srv(p, wt, port, n) => {
            w.u64_field("priority", u64::from(p));
            w.u64_field("weight", u64::from(wt));
            w.u64_field("port", u64::from(port));
            w.str_field("data", n.text(&mut buf));
        }
        RData::Txt(d) => {
            // The character-strings joined, bounded.
            let mut text = Vec::with_capacity(d.len().min(256));
            let mut rest = d;
            while let Some((&len, tail)) = rest.split_first() {
                let take = usize::from(len).min(tail.len());
                text.extend_from_slice(&tail[..take]);
                rest = &tail[take..];
            }
            text.truncate(256);
            w.bytes_str_field("data", &text);
        }
        RData::Other(d) => w.u64_field("rdlength", d.len() as u64),
        RData::Malformed(d) => {
            w.u64_field("rdlength", d.len() as u64);
            w.bool_field("malformed", true);
        }
    }
    w.end_object();
}

fn nb_name_fields(w: &mut JsonWriter, n: &Name<'_>) {
    match NbName::decode(n) {
        Some(nb) => {
            w.bytes_str_field("name", nb.name());
            w.u64_field("suffix", u64::from(nb.suffix()));
            w.str_field("suffix_name", netbios::suffix_name(nb.suffix()));
            // Labels after the encoded one: the NetBIOS scope.
            let mut labels = n.labels().skip(1).peekable();
            if labels.peek().is_some() {
                let mut scope = Vec::new();
                for (i, l) in labels.enumerate() {
                    if i > 0 {
                        scope.push(b'.');
                    }
                    scope.extend_from_slice(l);
                }
                w.bytes_str_field("scope", &scope);
            }
        }
        // Not an encoded NetBIOS name: as DNS would write it.
        None => name_field(w, "name", n),
    }
}

/// Writes `"netbios":{...}`.
pub(crate) fn write_netbios(w: &mut JsonWriter, ev: &NameServiceEvent<'_>, max_values: usize) {
    let mut b = Bounded::new(max_values);
    w.begin_object_field("netbios");
    if let Some(m) = ev.query.or(ev.response) {
        w.u64_field("transaction_id", u64::from(m.header.id));
        let op = m.header.nb_opcode();
        w.u64_field("opcode", u64::from(op.0));
        w.str_field("opcode_name", op.name());
        let q = ev
            .query
            .and_then(|q| q.question())
            .or(ev.response.and_then(|r| r.question()));
        match q {
            Some(q) => {
                nb_name_fields(w, &q.name);
                w.u64_field("name_type", u64::from(q.qtype.0));
                w.str_field("name_type_name", netbios::rr_type::name(q.qtype));
            }
            // Responses carry no question: the first record names it.
            None => {
                if let Some((_, r)) = netbios::records(&m).next() {
                    nb_name_fields(w, &r.name);
                    w.u64_field("name_type", u64::from(r.rtype.0));
                    w.str_field("name_type_name", netbios::rr_type::name(r.rtype));
                }
            }
        }
    }
    if ev.broadcast {
        w.bool_field("broadcast", true);
    }
    if let Some(q) = &ev.query {
        w.begin_object_field("query");
        nb_message(w, q, &mut b);
        w.end_object();
    }
    if let Some(r) = &ev.response {
        w.begin_object_field("response");
        let rc = r.header.nb_rcode();
        w.u64_field("rcode", u64::from(rc.0));
        w.str_field("rcode_name", rc.name());
        w.bool_field("authoritative", r.header.authoritative());
        nb_message(w, r, &mut b);
        w.end_object();
    }
    common_tail(w, ev, &b);
    w.end_object();
}

/// Header bits and records of one NetBIOS packet.
fn nb_message(w: &mut JsonWriter, m: &Message<'_>, b: &mut Bounded) {
    w.bool_field("recursion_desired", m.header.recursion_desired());
    let mut records = netbios::records(m).peekable();
    if records.peek().is_some() {
        w.begin_array_field("records");
        let mut n = 0;
        for (section, r) in records {
            n += 1;
            if n > b.max {
                b.truncated = true;
                break;
            }
            nb_record(w, section, &r, b);
        }
        w.end_array();
    }
    let nb_flags = netbios::check(m);
    flags_field(w, "flags", m.flags.names().chain(nb_flags.names()));
}

fn nb_record(w: &mut JsonWriter, section: Section, r: &Record<'_>, b: &mut Bounded) {
    w.begin_object();
    w.str_field(
        "section",
        match section {
            Section::Answer => "answer",
            Section::Authority => "authority",
            Section::Additional => "additional",
        },
    );
    nb_name_fields(w, &r.name);
    w.u64_field("type", u64::from(r.rtype.0));
    w.str_field("type_name", netbios::rr_type::name(r.rtype));
    w.u64_field("ttl", u64::from(r.ttl));
    match r.rtype {
        netbios::rr_type::NB => {
            w.begin_array_field("addresses");
            for (i, a) in netbios::nb_addresses(r.rdata).enumerate() {
                if i >= b.max {
                    b.truncated = true;
                    break;
                }
                w.begin_object();
                w.ip_field("address", a.address.into());
                w.bool_field("group", a.group);
                w.str_field("node_type", a.node_type.name());
                w.end_object();
            }
            w.end_array();
        }
        netbios::rr_type::NBSTAT => {
            let st = NodeStatus::parse(r.rdata);
            w.begin_array_field("names");
            for (i, n) in st.names().enumerate() {
                if i >= b.max {
                    b.truncated = true;
                    break;
                }
                w.begin_object();
                w.bytes_str_field("name", n.name.name());
                w.u64_field("suffix", u64::from(n.name.suffix()));
                w.str_field("suffix_name", netbios::suffix_name(n.name.suffix()));
                w.bool_field("group", n.group());
                w.bool_field("active", n.active());
                if n.conflict() {
                    w.bool_field("conflict", true);
                }
                if n.deregistering() {
                    w.bool_field("deregistering", true);
                }
                w.end_object();
            }
            w.end_array();
            if let Some(mac) = st.unit_id() {
                w.mac_field("unit_id", mac);
            }
        }
        _ => w.u64_field("rdlength", r.rdata.len() as u64),
    }
    w.end_object();
}
