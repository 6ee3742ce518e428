//! Publishes lines from stdin to a topic.
//!
//! `cargo run -p nsq-runtime-tokio --example producer -- 127.0.0.1:4150 events < lines.txt`

use nsq_runtime_tokio::client::{Config, Producer};
use std::io::BufRead;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4150".into());
    let topic = args.next().unwrap_or_else(|| "events".into());
    let producer = Producer::new(&addr, Config::new("example-producer"))?;
    let mut acks = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if !line.is_empty() {
            // pipelined: the acknowledgement is awaited below
            acks.push(producer.publish_async(&topic, line.as_bytes()).await?);
        }
    }
    let n = acks.len();
    for ack in acks {
        ack.await?;
    }
    producer.stop().await;
    eprintln!("published {n} messages to {topic}");
    Ok(())
}
