//! IEC 60870-5-104 parser entry points on arbitrary bytes: the content
//! probe, APDU framing over a byte stream, the ASDU parser with every
//! information object decoded and every name looked up. Nothing may panic,
//! and what the parsers return must stay within the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plantshield_protocols::iec104::{
    apdu_size, parse_apdu, parse_asdu, probe, Control, Time, MAX_APDU_LEN, MAX_ASDU_LEN,
};

fuzz_target!(|data: &[u8]| {
    let _ = probe(data, true);
    let _ = probe(data, false);

    // Frame the input as a stream, as the session does: whole APDUs, and a
    // one-byte skip wherever no APDU starts.
    let mut rest = data;
    while !rest.is_empty() {
        match apdu_size(rest) {
            Ok(n) if n <= rest.len() => {
                assert!(n <= MAX_APDU_LEN);
                let apdu = parse_apdu(rest).expect("a complete APDU parses");
                assert!(apdu.asdu.len() <= MAX_ASDU_LEN);
                let _ = apdu.flags.names().count();
                match apdu.control {
                    Control::I { send, receive } => {
                        assert!(send < 0x8000 && receive < 0x8000);
                        asdu(apdu.asdu);
                    }
                    Control::S { receive } => assert!(receive < 0x8000),
                    Control::U(f) => {
                        let _ = (f.name(), f.procedure());
                    }
                }
                rest = &rest[n..];
            }
            Ok(_) => break,
            Err(_) => rest = &rest[1..],
        }
    }
    // The whole input as one ASDU too.
    asdu(data);
});

fn asdu(b: &[u8]) {
    match parse_asdu(b) {
        Ok(a) => {
            let _ = (a.type_id.name(), a.type_id.mnemonic(), a.type_id.operation());
            let _ = (a.cot.cause().name(), a.flags.names().count());
            let _ = a.first_ioa();
            let mut n = 0;
            let mut s = String::new();
            for o in a.objects() {
                n += 1;
                assert!(o.ioa <= 0x00ff_ffff);
                if let Some(q) = o.element.quality {
                    let _ = q.names().count();
                }
                s.clear();
                match o.element.time {
                    Some(Time::Cp56(t)) => t.format(&mut s),
                    Some(Time::Cp24(t)) => t.format(&mut s),
                    None => {}
                }
            }
            assert!(n <= usize::from(a.vsq.number()));
        }
        Err(t) => assert!(t.len < 6 && t.len <= b.len()),
    }
}
