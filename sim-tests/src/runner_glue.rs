//! Adapts scenario futures to the runner's [`Scenario`] type.
//!
//! [`Scenario`]: nsq_runtime_sim::runner::Scenario

use std::future::Future;
use std::pin::Pin;

pub fn boxed(
    f: impl Future<Output = Result<String, String>> + 'static,
) -> Pin<Box<dyn Future<Output = Result<String, String>>>> {
    Box::pin(f)
}
