//! How Go prints the values nsqd's stats show: `time.Duration` strings,
//! RFC 3339 times, nsqd's human latencies.

use crate::io::{Nanos, SECOND};

/// `v` (< 10^digits) with `digits` decimals, trailing zeros trimmed
/// (`"5"`, `"571237819"` → `"571237819"`, `"500"` → `"5"`).
fn fraction(v: u64, digits: usize) -> String {
    let s = format!("{v:0digits$}");
    s.trim_end_matches('0').to_string()
}

/// `whole[.frac]` for `v` in units of 10^-digits.
fn decimal(v: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let (whole, frac) = (v / scale, v % scale);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", fraction(frac, digits as usize))
    }
}

/// Go's `time.Duration.String()`: `0s`, `250ns`, `1.5µs`, `12.3ms`,
/// `1.571237819s`, `1m30s`, `2h0m5s`.
pub fn duration(d: Nanos) -> String {
    let sign = if d < 0 { "-" } else { "" };
    let u = d.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", decimal(u, 3));
    }
    if u < SECOND as u64 {
        return format!("{sign}{}ms", decimal(u, 6));
    }
    let secs = u / SECOND as u64;
    let s = decimal(u % (60 * SECOND as u64), 9);
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// NSQ's `NanoSecondToHuman`: one decimal and the largest unit that fits.
pub fn nanos_to_human(v: f64) -> String {
    let (v, unit) = if v > 1e9 {
        (v / 1e9, "s")
    } else if v > 1e6 {
        (v / 1e6, "ms")
    } else if v > 1e3 {
        (v / 1e3, "us")
    } else {
        (v, "ns")
    };
    format!("{v:.1}{unit}")
}

/// A Unix time in seconds as Go's `time.RFC3339` in UTC (`2026-11-21T19:56:24Z`).
pub fn rfc3339_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        for (ns, want) in [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (1_000_000, "1ms"),
            (12_345_678, "12.345678ms"),
            (1_571_237_819, "1.571237819s"),
            (SECOND, "1s"),
            (90 * SECOND, "1m30s"),
            (3600 * SECOND, "1h0m0s"),
            (7205 * SECOND + 1_000_000, "2h0m5.001s"),
            (-1_500_000_000, "-1.5s"),
        ] {
            assert_eq!(duration(ns), want, "{ns}");
        }
    }

    #[test]
    fn human_latencies() {
        assert_eq!(nanos_to_human(0.0), "0.0ns");
        assert_eq!(nanos_to_human(1000.0), "1000.0ns");
        assert_eq!(nanos_to_human(1500.0), "1.5us");
        assert_eq!(nanos_to_human(2_500_000.0), "2.5ms");
        assert_eq!(nanos_to_human(3_250_000_000.0), "3.2s");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_290_984), "2026-11-21T19:56:24Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }
}
