//! Go's `time.ParseDuration` ("300ms", "1.5h", "2h45m") and a compact
//! formatter: NSQ's flags, config files and client options all use them.

use std::time::Duration;

/// Parses a Go duration string. Negative durations are refused (no NSQ
/// option means anything by them).
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let mut rest = s.trim();
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if let Some(neg) = rest.strip_prefix('-') {
        if !neg.is_empty() && neg.chars().all(|c| c == '0' || c == '.') {
            return Ok(Duration::ZERO);
        }
        return Err(format!("time: negative duration {s:?} is not allowed here"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        if num_end == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += value * unit;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > 9.2e9 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats like Go's `Duration.String` for whole units ("1m0s" style is
/// not needed here; we print the largest exact unit).
pub fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns.is_multiple_of(size) {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("100us"), Ok(Duration::from_micros(100)));
        assert!(parse("10").is_err());
        assert!(parse("abc").is_err());
        assert!(parse("").is_err());
        assert!(parse("5x").is_err());
        assert!(parse("-5s").is_err());
    }

    #[test]
    fn formats_whole_units() {
        assert_eq!(format(Duration::from_secs(60)), "1m");
        assert_eq!(format(Duration::from_millis(250)), "250ms");
    }
}
