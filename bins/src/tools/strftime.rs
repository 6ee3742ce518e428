//! The strftime subset nsq_to_file's `--datetime-format` understands (Go's
//! `jehiah/go-strftime` table): `%Y %y %m %d %H %I %M %S %p %B %b %A %a %Z
//! %z %%`; any other `%x` is printed as is.

use chrono::{DateTime, Datelike, TimeZone, Timelike};

pub fn strftime<Tz: TimeZone>(format: &str, t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(&spec) = chars.peek() else {
            out.push('%');
            break;
        };
        let piece = match spec {
            'Y' => format!("{:04}", t.year()),
            'y' => format!("{:02}", t.year().rem_euclid(100)),
            'm' => format!("{:02}", t.month()),
            'd' => format!("{:02}", t.day()),
            'H' => format!("{:02}", t.hour()),
            'I' => format!("{:02}", t.hour12().1),
            'M' => format!("{:02}", t.minute()),
            'S' => format!("{:02}", t.second()),
            'p' => (if t.hour12().0 { "PM" } else { "AM" }).to_string(),
            'B' => t.format("%B").to_string(),
            'b' => t.format("%b").to_string(),
            'A' => t.format("%A").to_string(),
            'a' => t.format("%a").to_string(),
            'Z' => t.format("%Z").to_string(),
            'z' => t.format("%z").to_string(),
            '%' => "%".to_string(),
            _ => {
                out.push('%');
                continue;
            }
        };
        chars.next();
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn formats_like_go_strftime() {
        let t = Utc.with_ymd_and_hms(2026, 3, 7, 15, 4, 5).unwrap();
        assert_eq!(strftime("%Y-%m-%d_%H", &t), "2026-03-07_15");
        assert_eq!(strftime("%y%m%d %I:%M:%S %p", &t), "260307 03:04:05 PM");
        assert_eq!(strftime("%a %b %A %B %%", &t), "Sat Mar Saturday March %");
        assert_eq!(strftime("%q%Y%", &t), "%q2026%");
        assert_eq!(strftime("%z", &t), "+0000");
    }
}
