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

/// Go's `time.Duration.String()`: `1.234567ms`, `56.7µs`, `1m30s`,
/// `1h0m0s` (what NSQ's log lines print).
pub fn go_string(d: Duration) -> String {
    let ns = d.as_nanos();
    // `whole` units of `size` ns, with up to `digits` fraction digits (trailing zeros trimmed)
    let with_fraction = |size: u128, digits: usize| {
        let whole = ns / size;
        let frac = format!("{:0digits$}", ns % size);
        let frac = frac.trim_end_matches('0');
        match frac {
            "" => whole.to_string(),
            f => format!("{whole}.{f}"),
        }
    };
    match ns {
        0 => "0s".into(),
        1..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{}µs", with_fraction(1_000, 3)),
        1_000_000..=999_999_999 => format!("{}ms", with_fraction(1_000_000, 6)),
        _ => {
            let secs = (ns / 1_000_000_000) as u64;
            let (h, m) = (secs / 3600, secs / 60 % 60);
            let s = with_fraction(1_000_000_000, 9);
            let s = match s.split_once('.') {
                Some((whole, f)) => format!("{}.{f}", whole.parse::<u64>().unwrap_or(0) % 60),
                None => (secs % 60).to_string(),
            };
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_go_prints() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_nanos(56_789), "56.789µs"),
            (Duration::from_nanos(1_234_567), "1.234567ms"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(2_500), "2.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_nanos(3_723_000_000_001), "1h2m3.000000001s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_string(d), want, "{d:?}");
        }
    }

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
