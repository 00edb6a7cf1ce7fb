//! HTML building blocks: escaping, tables, and bar charts drawn as inline
//! SVG (no script, no external resource).

use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
/// Everything that comes from traffic (asset names, identities, alert
/// messages) goes through it.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// The first `n` characters of `s` (with an ellipsis when cut).
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Whether `id` is an ATT&CK technique id (`T0846`, `T0846.001`), so it
/// may go into a link.
pub fn is_technique_id(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

/// A link to a technique's page on attack.mitre.org (the only external
/// address in the report), or its escaped id when it is not a technique id.
pub fn technique_link(id: &str) -> String {
    if is_technique_id(id) {
        let path = id.replace('.', "/");
        format!("<a href=\"https://attack.mitre.org/techniques/{path}/\">{id}</a>")
    } else {
        esc(id)
    }
}

/// One bar of a chart.
pub struct Bar {
    /// Label (escaped when drawn).
    pub label: String,
    /// Value (non-negative).
    pub value: i64,
    /// Fill colour (a constant of ours, never from data).
    pub color: &'static str,
}

/// A horizontal bar chart as inline SVG: one row per bar, the label left,
/// the value right of the bar. `title` names the chart for screen readers.
pub fn bar_chart(title: &str, bars: &[Bar]) -> String {
    const W: i64 = 680;
    const LABEL: i64 = 230;
    const ROW: i64 = 22;
    const VALUE: i64 = 70;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let h = ROW * bars.len() as i64 + 6;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" width=\"{W}\" height=\"{h}\" \
         viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i as i64 * ROW + 3;
        let len = ((W - LABEL - VALUE) * b.value.max(0)) / max;
        let len = if b.value > 0 { len.max(2) } else { 0 };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"l\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{}\" width=\"{len}\" height=\"{}\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" class=\"v\">{}</text>",
            LABEL - 6,
            y + 14,
            esc(&cut(&b.label, 34)),
            y + 2,
            ROW - 6,
            b.color,
            LABEL + len + 4,
            y + 14,
            b.value
        );
    }
    s.push_str("</svg>");
    s
}

/// A table: `head` cells are our own text; `rows` are already HTML
/// (escaped by the caller), each with its `<tr>` attributes.
pub fn table(head: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{h}</th>");
    }
    s.push_str("</tr></thead><tbody>");
    for (attrs, cells) in rows {
        let _ = write!(s, "<tr{attrs}>");
        for c in cells {
            let _ = write!(s, "<td>{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{0}b"), "a\u{fffd}b");
    }

    #[test]
    fn only_technique_ids_become_links() {
        assert!(technique_link("T0846").contains("https://attack.mitre.org/techniques/T0846/"));
        assert!(technique_link("T0846.001").contains("/techniques/T0846/001/"));
        assert_eq!(technique_link("T08\"46"), "T08&quot;46");
        assert!(!is_technique_id("javascript:x"));
    }

    #[test]
    fn chart_labels_are_escaped() {
        let svg = bar_chart(
            "t",
            &[Bar {
                label: "<b>".into(),
                value: 3,
                color: "#123",
            }],
        );
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"), "{svg}");
    }
}
