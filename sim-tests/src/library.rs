//! Consumers built from the client library (`nsq_runtime_tokio::client::Consumer`,
//! the code users run): they find nsqd nodes through the simulated lookupds,
//! spread max-in-flight as RDY, back off on errors and reconnect. Their
//! lookupd HTTP goes through [`SimFetch`], which answers from the lookupd's
//! registrations as its `/lookup` would (nsqlookupd's HTTP server is not
//! part of the simulation), honouring partitions and crashes.

use crate::ledger::Ledger;
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use madsim::task::NodeId;
use nsq_core::lookup::views;
use nsq_runtime_sim::cluster::Cuts;
use nsq_runtime_sim::LookupdNode;
use nsq_runtime_tokio::client::http::{BoxFuture, Fetch, HttpResponse};
use nsq_runtime_tokio::client::{handler_fn, Config, Consumer, Error, HandlerError, Message};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// lookupd's `/lookup` for a client on `client`.
pub struct SimFetch {
    pub client: NodeId,
    pub lookupds: Vec<LookupdNode>,
    pub cuts: Arc<Cuts>,
}

impl SimFetch {
    async fn lookup(&self, url: &str) -> Result<HttpResponse, Error> {
        // A round trip's worth of latency.
        madsim::time::sleep(Duration::from_millis(thread_rng().gen_range(2..20))).await;
        let refused = || Error::Http(format!("{url}: connection refused"));
        let rest = url.strip_prefix("http://").ok_or_else(refused)?;
        let (authority, query) = rest.split_once("/lookup?topic=").ok_or_else(refused)?;
        let addr: SocketAddr = authority.parse().map_err(|_| refused())?;
        let l = self
            .lookupds
            .iter()
            .find(|l| l.ip == addr.ip())
            .ok_or_else(refused)?;
        if self.cuts.blocked(self.client, l.id()) || self.cuts.blocked(l.id(), self.client) {
            return Err(Error::Http(format!("{url}: request timed out")));
        }
        let db = l.db().ok_or_else(refused)?;
        let topic = query.split('&').next().unwrap_or("");
        let found = db.with(|db, opts| {
            views::lookup(db, topic, opts.activity(), nsq_runtime_tokio::clock::now())
        });
        let (status, body) = match found {
            Some(v) => (
                200,
                serde_json::to_vec(&v).map_err(|e| Error::Http(e.to_string()))?,
            ),
            None => (404, br#"{"message":"TOPIC_NOT_FOUND"}"#.to_vec()),
        };
        Ok(HttpResponse {
            status,
            nsq_v1: true,
            body: Bytes::from(body),
        })
    }
}

impl Fetch for SimFetch {
    fn get_v1<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<HttpResponse, Error>> {
        Box::pin(self.lookup(url))
    }
}

/// One library consumer of `topic/channel` on a client machine.
#[derive(Clone)]
pub struct Spec {
    pub client: NodeId,
    pub topic: String,
    pub channel: String,
    pub lookupds: Vec<LookupdNode>,
    pub cuts: Arc<Cuts>,
    /// nsqd TCP address → its index in the world.
    pub nsqds: Vec<SocketAddr>,
    pub max_in_flight: i64,
    /// Chance that the handler fails (the message is requeued with backoff).
    pub fail: f64,
}

/// Runs until its machine is killed.
pub async fn run(spec: Spec, ledger: Arc<Ledger>) {
    let mut cfg = Config::new("sim-library");
    cfg.max_in_flight = spec.max_in_flight;
    cfg.lookupd_poll_interval = Duration::from_secs(2);
    cfg.max_attempts = 0;
    cfg.heartbeat_interval = Some(Duration::from_secs(1));
    cfg.default_requeue_delay = Duration::from_millis(200);
    cfg.max_requeue_delay = Duration::from_secs(2);
    cfg.max_backoff_duration = Duration::from_secs(2);
    let fetch = SimFetch {
        client: spec.client,
        lookupds: spec.lookupds.clone(),
        cuts: Arc::clone(&spec.cuts),
    };
    let c = match Consumer::with_fetch(&spec.topic, &spec.channel, cfg, Some(Arc::new(fetch))) {
        Ok(c) => c,
        Err(e) => panic!("library consumer config: {e}"),
    };
    let (topic, channel, nsqds, fail) = (
        spec.topic.clone(),
        spec.channel.clone(),
        spec.nsqds.clone(),
        spec.fail,
    );
    let handler = handler_fn(move |m: Message| {
        let ledger = Arc::clone(&ledger);
        let (topic, channel) = (topic.clone(), channel.clone());
        let nsqd = nsqds.iter().position(|a| a.to_string() == m.nsqd_address());
        async move {
            match nsqd {
                Some(i) => ledger.delivered(i, &topic, &channel, m.body()),
                None => ledger.note_violation(format!(
                    "misdelivery: library consumer got a message from unknown nsqd {}",
                    m.nsqd_address()
                )),
            }
            let (work, failed) = {
                let mut rng = thread_rng();
                (rng.gen_range(0..50), rng.gen_bool(fail))
            };
            madsim::time::sleep(Duration::from_millis(work)).await;
            if failed {
                Err(HandlerError::from("simulated handler failure"))
            } else {
                Ok(())
            }
        }
    });
    if let Err(e) = c.add_handler(handler) {
        panic!("library consumer handler: {e}");
    }
    let addrs: Vec<String> = spec
        .lookupds
        .iter()
        .map(|l| format!("{}:4161", l.ip))
        .collect();
    if let Err(e) = c.connect_to_lookupds(&addrs) {
        panic!("library consumer lookupds: {e}");
    }
    std::future::pending::<()>().await;
}
