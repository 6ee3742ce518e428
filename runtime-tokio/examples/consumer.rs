//! Prints every message of a topic until Ctrl-C, with a handler; or, with
//! `--stream`, by reading the message stream.
//!
//! `cargo run -p nsq-runtime-tokio --example consumer -- 127.0.0.1:4150 events [--stream]`

use nsq_runtime_tokio::client::{handler_fn, Config, Consumer, Message};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:4150".into());
    let topic = args.get(1).cloned().unwrap_or_else(|| "events".into());
    let mut cfg = Config::new("example-consumer");
    cfg.max_in_flight = 10;
    let consumer = Consumer::new(&topic, "example#ephemeral", cfg)?;
    if args.iter().any(|a| a == "--stream") {
        let mut messages = consumer.messages()?;
        consumer.connect_to_nsqd(&addr).await?;
        tokio::spawn(async move {
            while let Some(m) = messages.recv().await {
                println!("{}", String::from_utf8_lossy(m.body()));
                m.finish();
            }
        });
    } else {
        // Ok finishes the message, Err requeues it (with backoff)
        consumer.add_handler(handler_fn(|m: Message| async move {
            println!("{}", String::from_utf8_lossy(m.body()));
            Ok(())
        }))?;
        consumer.connect_to_nsqd(&addr).await?;
    }
    nsq_runtime_tokio::signal::shutdown_signal().await;
    consumer.stop().await;
    Ok(())
}
