//! Helpers for core's unit tests.

use std::path::PathBuf;

/// `shared/fixtures/http-samples`, found above the checkout (main or worktree).
pub fn http_samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|p| p.join("shared/fixtures/http-samples"))
        .find(|p| p.is_dir())
        .expect("shared/fixtures/http-samples above the checkout")
}

/// The body of a captured Go response.
pub fn capture(name: &str) -> String {
    let raw = std::fs::read_to_string(http_samples().join(name)).expect(name);
    raw.split_once("\n\n").expect("headers end").1.to_string()
}
