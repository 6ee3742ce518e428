//! Topic and channel name rules: `^[.a-zA-Z0-9_-]+(#ephemeral)?$`, 1 to 64 bytes.

const EPHEMERAL_SUFFIX: &str = "#ephemeral";

/// True when `name` is a valid topic name.
pub fn is_valid_topic_name(name: &str) -> bool {
    is_valid_name(name)
}

/// True when `name` is a valid channel name.
pub fn is_valid_channel_name(name: &str) -> bool {
    is_valid_name(name)
}

/// True when the name asks for an ephemeral topic or channel.
pub fn is_ephemeral(name: &str) -> bool {
    name.ends_with(EPHEMERAL_SUFFIX)
}

fn is_valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 64 {
        return false;
    }
    let stem = name.strip_suffix(EPHEMERAL_SUFFIX).unwrap_or(name);
    !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_nsq_names() {
        for ok in ["a", "orders", "a.b-c_d", "x#ephemeral", &"a".repeat(64)] {
            assert!(is_valid_topic_name(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "#ephemeral",
            "bad!topic",
            "a b",
            "a#ephemeral#ephemeral",
            "a#eph",
            "ü",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_channel_name(bad), "{bad}");
        }
    }

    #[test]
    fn ephemeral_suffix() {
        assert!(is_ephemeral("c#ephemeral"));
        assert!(!is_ephemeral("c"));
    }
}
