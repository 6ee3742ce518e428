//! An NSQ client library: [`Producer`] and [`Consumer`] with go-nsq v1.1.0's
//! behaviour (the rules live in `nsq_core::consumer`; this module dials,
//! reads, writes and keeps time).
//!
//! Connections speak IDENTIFY with feature negotiation (client id,
//! hostname, user agent, heartbeats answered with NOP, output buffering,
//! sample rate, message timeout) and AUTH when nsqd requires it. TLS,
//! snappy and deflate (go-nsq's `tls_v1`, `tls_root_ca_file`,
//! `tls_insecure_skip_verify`, `tls_cert`/`tls_key`, `snappy`, `deflate`,
//! `deflate_level`) are negotiated in IDENTIFY and go in as transport
//! wrappers (`transport::upgrade`, the stream types nsqd uses too).
//!
//! ```no_run
//! use nsq_runtime_tokio::client::{handler_fn, Config, Consumer, Message, Producer};
//! # async fn demo() -> Result<(), nsq_runtime_tokio::client::Error> {
//! let producer = Producer::new("127.0.0.1:4150", Config::new("my-host"))?;
//! producer.publish("events", b"hello").await?;
//!
//! let consumer = Consumer::new("events", "archive", Config::new("my-host"))?;
//! consumer.add_handler(handler_fn(|m: Message| async move {
//!     println!("{}", String::from_utf8_lossy(m.body()));
//!     Ok(())
//! }))?;
//! consumer.connect_to_lookupd("127.0.0.1:4161")?;
//! // ... later
//! consumer.stop().await;
//! # Ok(()) }
//! ```

mod conn;
pub mod consumer;
mod error;
pub mod http;
pub mod message;
pub mod producer;
pub mod transport;

pub use consumer::{handler_fn, Consumer, Handler, HandlerError, HandlerFn, Messages};
pub use error::Error;
pub use message::Message;
pub use nsq_core::consumer::{BackoffStrategy, Config, Stats};
pub use producer::{Ack, Producer};
