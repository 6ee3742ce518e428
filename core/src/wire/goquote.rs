//! Go's `%q` rendering of a byte string, which NSQ uses inside error texts
//! (e.g. `E_BAD_TOPIC PUB topic name "bad!topic" is not valid`).

use std::fmt::Write;

/// Quotes `raw` the way Go's `strconv.Quote` does for the cases that matter
/// on the wire: escapes, invalid UTF-8 as `\xNN`, control characters as `\uNNNN`.
pub fn go_quote(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    out.push('"');
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(b"bad!topic"), "\"bad!topic\"");
        assert_eq!(go_quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote(b"\n\t\x01"), "\"\\n\\t\\x01\"");
        assert_eq!(go_quote(b"\xff\xfeok"), "\"\\xff\\xfeok\"");
        assert_eq!(go_quote("ü".as_bytes()), "\"ü\"");
    }
}
