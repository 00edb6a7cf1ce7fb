//! DHCP: the pure parser on arbitrary bytes (the BOOTP header, the
//! options with overload, the findings, the typed option readers), then
//! the same bytes through the sensor as datagrams between ports 68 and 67.
//!
//! Checks: nothing panics; the client hardware address and every option
//! value lie inside the message; at most `MAX_OPTIONS` options; no flow
//! is left after `finish`.
//!
//! Input: a mode byte (unused), then a conversation of records `[ctl][len
//! u16 LE][payload]` (see `fuzz/src/lib.rs`), every record a datagram
//! 68 <-> 67 (bit 0 picks the sender). The parsers see each payload, the
//! input after the mode byte whole, and that input again behind a
//! 236-octet BOOTP header and the magic cookie, so that the option walk is
//! reached quickly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_fuzz::{records, run_sensor, within};
use plantshield_protocols::dhcp::{self, option, Message, MAX_OPTIONS};

fn parsers(data: &[u8]) {
    let _ = dhcp::probe(data, false);
    let Some(m) = Message::parse(data) else {
        return;
    };
    std::hint::black_box((m.flags().names().count(), m.message_type(), m.client_mac()));
    within(data, m.client_hardware());
    assert!(m.options().count() <= MAX_OPTIONS);
    for o in m.options() {
        within(data, o.value);
    }
    std::hint::black_box((
        m.client_fqdn(),
        m.address_option(option::SERVER_ID),
        m.u32_option(option::LEASE_TIME),
    ));
    if let Some(l) = m.option(option::PARAMETER_REQUEST_LIST) {
        std::hint::black_box(dhcp::fingerprint(l));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((_, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    let mut framed = vec![1u8, 1, 6, 0];
    framed.resize(236, 0);
    framed.extend_from_slice(&dhcp::MAGIC_COOKIE);
    framed.extend_from_slice(rest);
    parsers(&framed);
    let recs = records(rest);
    for r in &recs {
        parsers(r.payload);
    }
    run_sensor(&recs, None, Some((68, 67)));
});
