//! Go's flag package accepts `-flag`, `--flag`, `-flag=v` and `--flag=v`;
//! clap wants `--flag`. Scripts written for NSQ use both, so single-dash
//! long flags are rewritten before parsing.

use std::ffi::OsString;

pub fn normalize<I: IntoIterator<Item = OsString>>(args: I) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut rest_are_positional = false;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || rest_are_positional {
            out.push(a);
            continue;
        }
        if a == "--" {
            rest_are_positional = true;
            out.push(a);
            continue;
        }
        match a.to_str() {
            Some(s)
                if s.len() > 2
                    && s.starts_with('-')
                    && !s.starts_with("--")
                    && s.as_bytes()[1].is_ascii_alphabetic() =>
            {
                out.push(OsString::from(format!("-{s}")));
            }
            _ => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &[&str]) -> Vec<String> {
        normalize(v.iter().map(OsString::from))
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double() {
        assert_eq!(
            n(&[
                "nsqd",
                "-mem-queue-size=5",
                "--data-path",
                "/x",
                "-h",
                "-1",
                "-node-id",
                "3"
            ]),
            [
                "nsqd",
                "--mem-queue-size=5",
                "--data-path",
                "/x",
                "-h",
                "-1",
                "--node-id",
                "3"
            ]
        );
        assert_eq!(n(&["x", "--", "-abc"]), ["x", "--", "-abc"]);
    }
}
