//! Heads and framing after RFC 9112: request and status lines, header
//! fields, the body-length rules of §6.3 and chunked coding (§7.1).

use proptest::prelude::*;

use super::*;

const REQ: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: 10.0.0.5\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\n\r\n";

#[test]
fn a_request_head() {
    assert_eq!(head_len(REQ), Some(REQ.len()));
    assert_eq!(head_len(&REQ[..REQ.len() - 1]), None);
    let r = RequestHead::parse(REQ).unwrap();
    assert_eq!(r.method, b"GET");
    assert_eq!(r.uri, b"/index.html");
    assert_eq!(r.version, Some(Version(1, 1)));
    assert_eq!(r.host(), Some(&b"10.0.0.5"[..]));
    assert_eq!(
        r.user_agent(),
        Some(&b"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"[..])
    );
    assert!(r.flags.is_empty());
    assert_eq!(request_body(&r), Body::None);
    assert_eq!(r.headers.iter().count(), 3);
}

#[test]
fn a_response_head() {
    let h = b"HTTP/1.1 200 OK\r\nServer: GoAhead-Webs\r\nContent-Length: 12\r\n\r\n";
    let r = ResponseHead::parse(h).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, b"OK");
    assert_eq!(r.server(), Some(&b"GoAhead-Webs"[..]));
    assert_eq!(response_body(&r, Some(b"GET")), Body::Length(12));
    assert_eq!(response_body(&r, Some(b"HEAD")), Body::None);
    assert!(r.flags.is_empty());
    let r = ResponseHead::parse(b"HTTP/1.0 304 Not Modified\r\n\r\n").unwrap();
    assert_eq!(response_body(&r, Some(b"GET")), Body::None);
    let r =
        ResponseHead::parse(b"HTTP/1.1 200\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap();
    assert_eq!(r.reason, b"");
    assert_eq!(response_body(&r, None), Body::Chunked);
    let r = ResponseHead::parse(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
    assert_eq!(response_body(&r, Some(b"GET")), Body::UntilClose);
    let r = ResponseHead::parse(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        .unwrap();
    assert!(!r.is_interim());
    assert_eq!(response_body(&r, Some(b"GET")), Body::Tunnel);
    let r = ResponseHead::parse(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
    assert!(r.is_interim());
    let r = ResponseHead::parse(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
    assert_eq!(response_body(&r, Some(b"CONNECT")), Body::Tunnel);
    assert!(ResponseHead::parse(b"HTTP/1.1 2x0 OK\r\n\r\n").is_none());
    assert!(ResponseHead::parse(b"SSH-2.0-OpenSSH\r\n\r\n").is_none());
}

#[test]
fn findings_in_heads() {
    let h = b"POST /cgi HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nContent-Length: 5\nbroken line\n folded\n\n";
    assert_eq!(head_len(h), Some(h.len()));
    let r = RequestHead::parse(h).unwrap();
    assert_eq!(
        r.flags.names().collect::<Vec<_>>(),
        ["bare_lf", "bad_header_line", "obs_fold", "te_and_cl"]
    );
    assert_eq!(request_body(&r), Body::Chunked);
    let r = RequestHead::parse(b"PUT / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n").unwrap();
    assert_eq!(r.flags.names().collect::<Vec<_>>(), ["bad_content_length"]);
    let r = RequestHead::parse(b"PUT / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n").unwrap();
    assert!(r.flags.is_empty());
    assert_eq!(request_body(&r), Body::Length(7));
    let r = RequestHead::parse(b"PROPFIND /x HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(r.flags.names().collect::<Vec<_>>(), ["nonstandard_method"]);
    let r = RequestHead::parse(b"GET /\r\n\r\n").unwrap();
    assert_eq!(r.version, None);
    assert_eq!(r.flags.names().collect::<Vec<_>>(), ["bad_start_line"]);
    assert!(RequestHead::parse(b"\x16\x03\x01 x\r\n\r\n").is_none());
    // Empty lines before the request line are skipped.
    let h = b"\r\nGET / HTTP/1.0\r\n\r\n";
    assert_eq!(head_len(h), Some(h.len()));
    assert_eq!(RequestHead::parse(h).unwrap().method, b"GET");
}

#[test]
fn chunked_bodies_end_where_they_end() {
    let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nGET";
    let mut c = Chunked::default();
    assert_eq!(c.feed(body), ChunkStep::Done(body.len() - 3));
    // The same bytes one at a time.
    let mut c = Chunked::default();
    let mut done = None;
    for (i, b) in body.iter().enumerate() {
        match c.feed(std::slice::from_ref(b)) {
            ChunkStep::More => {}
            ChunkStep::Done(n) => {
                done = Some(i + n);
                break;
            }
            ChunkStep::Error(_) => panic!("error at {i}"),
        }
    }
    assert_eq!(done, Some(body.len() - 3));
    let mut c = Chunked::default();
    assert_eq!(c.feed(b"0\n\n"), ChunkStep::Done(3));
    let mut c = Chunked::default();
    assert_eq!(c.feed(b"zz\r\n"), ChunkStep::Error(0));
    let mut c = Chunked::default();
    assert_eq!(c.feed(b"2\r\nabX"), ChunkStep::Error(5));
    let mut c = Chunked::default();
    assert_eq!(c.feed(b"1234567890abcdef0\r\n"), ChunkStep::Error(15));
}

#[test]
fn probes() {
    assert_eq!(probe(REQ, true), Probe::Match);
    assert_eq!(probe(REQ, false), Probe::Match);
    assert_eq!(probe(b"GE", true), Probe::NeedMore);
    assert_eq!(probe(b"GET /a", true), Probe::NeedMore);
    assert_eq!(probe(b"GET /a", false), Probe::Match);
    assert_eq!(probe(b"HTTP/1.1 200 OK\r\n", true), Probe::Match);
    assert_eq!(probe(b"HTTP/1", true), Probe::NeedMore);
    assert_eq!(probe(b"FOO / HTTP/1.1\r\n", true), Probe::NoMatch);
    assert_eq!(probe(b"FOO / HTTP/1.1\r\n", false), Probe::Match);
    assert_eq!(probe(b"GET / HTTP/2.0\r\n", true), Probe::NoMatch);
    assert_eq!(probe(b"\x03\x00\x00\x16", false), Probe::NoMatch);
    assert_eq!(probe(b"SSH-2.0-x\r\n", true), Probe::NoMatch);
    assert_eq!(probe(b"GET /\x01", true), Probe::NoMatch);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = probe(&b, true);
        let _ = probe(&b, false);
        if let Some(n) = head_len(&b) {
            prop_assert!(n <= b.len());
        }
        if let Some(r) = RequestHead::parse(&b) {
            let _ = request_body(&r);
            let _ = r.headers.iter().count();
            let _ = (r.host(), r.user_agent());
        }
        if let Some(r) = ResponseHead::parse(&b) {
            let _ = response_body(&r, Some(b"GET"));
            let _ = r.server();
        }
        let mut c = Chunked::default();
        match c.feed(&b) {
            ChunkStep::Done(n) | ChunkStep::Error(n) => prop_assert!(n <= b.len()),
            ChunkStep::More => {}
        }
    }

    /// Chunked bodies of random chunks, cut anywhere, end exactly.
    #[test]
    fn chunked_round_trip(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..6), cut in 1usize..50) {
        let mut body = Vec::new();
        for c in &chunks {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        let total = body.len();
        body.extend_from_slice(b"NEXT");
        let mut ch = Chunked::default();
        let mut at = 0;
        let mut end = None;
        for piece in body.chunks(cut) {
            match ch.feed(piece) {
                ChunkStep::More => at += piece.len(),
                ChunkStep::Done(n) => { end = Some(at + n); break; }
                ChunkStep::Error(e) => prop_assert!(false, "error at {}", at + e),
            }
        }
        prop_assert_eq!(end, Some(total));
    }
}
