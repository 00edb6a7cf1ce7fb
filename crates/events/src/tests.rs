use super::*;

#[test]
fn timestamps() {
    let mut v = Vec::new();
    format_rfc3339_micros(0, &mut v);
    assert_eq!(v, b"1970-01-01T00:00:00.000000+00:00");
    v.clear();
    format_rfc3339_micros(1_700_000_000_123_456_789, &mut v);
    assert_eq!(v, b"2023-11-14T22:13:20.123456+00:00");
    v.clear();
    // Leap day, and a time before the epoch.
    format_rfc3339_micros(951_782_400_000_001_000, &mut v);
    assert_eq!(v, b"2000-02-29T00:00:00.000001+00:00");
    v.clear();
    format_rfc3339_micros(-1_000, &mut v);
    assert_eq!(v, b"1969-12-31T23:59:59.999999+00:00");
    let mut c = TimestampCache::default();
    let mut w = Vec::new();
    c.push(1_700_000_000_000_000_000, &mut w);
    w.push(b' ');
    c.push(1_700_000_000_999_999_000, &mut w);
    assert_eq!(
        w,
        b"2023-11-14T22:13:20.000000+00:00 2023-11-14T22:13:20.999999+00:00"
    );
}

#[test]
fn writer_produces_valid_json_with_escapes() {
    let mut w = JsonWriter::new();
    w.begin_object();
    w.str_field("s", "quote\" back\\ nl\n ctl\u{1} del\u{7f} é");
    w.u64_field("n", u64::MAX);
    w.i64_field("i", -5);
    w.f64_field("f", 1.5);
    w.f64_field("nan", f64::NAN);
    w.bool_field("b", true);
    w.null_field("z");
    w.ip_field("v4", "10.1.2.3".parse().unwrap());
    w.ip_field("v6", "fe80::1".parse().unwrap());
    w.hex_field("h", &[0, 0xab]);
    w.bytes_str_field("bad", &[b'a', 0xff, b'b']);
    w.time_field("t", 0);
    w.begin_array_field("a");
    w.u64_value(1);
    w.begin_object();
    w.u64_field("x", 2);
    w.end_object();
    w.str_value("y");
    w.end_array();
    w.begin_object_field("o");
    w.end_object();
    w.end_object();
    w.newline();
    let text = std::str::from_utf8(w.as_bytes()).unwrap();
    assert!(text.ends_with('\n'));
    let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(v["s"], "quote\" back\\ nl\n ctl\u{1} del\u{7f} é");
    assert_eq!(v["n"], u64::MAX);
    assert_eq!(v["nan"], serde_json::Value::Null);
    assert_eq!(v["v6"], "fe80::1");
    assert_eq!(v["h"], "00ab");
    assert_eq!(v["bad"], "a\u{fffd}b");
    assert_eq!(v["t"], "1970-01-01T00:00:00.000000+00:00");
    assert_eq!(v["a"][1]["x"], 2);
    assert_eq!(v["a"][2], "y");
    assert!(v["o"].as_object().unwrap().is_empty());
}
