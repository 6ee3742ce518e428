//! Records the compiler's version for NSQ's version line (`built w/rust1.95.0`,
//! as Go's says `built w/go1.19.8`): one token of [a-z0-9.-], which tools
//! that parse NSQ's `--version` expect.

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    println!("cargo:rustc-env=NSQ_BUILT_WITH={}", built_with(&version));
    println!("cargo:rerun-if-changed=build.rs");
}

/// `rustc 1.95.0 (59807616e 2026-04-14)` -> `rust1.95.0`.
fn built_with(rustc_version: &str) -> String {
    let number: String = rustc_version
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    format!("rust{number}")
}
