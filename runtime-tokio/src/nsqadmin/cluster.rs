//! Asking the cluster (NSQ's `clusterinfo`): every question goes to all the
//! nodes concerned at once; answers are read and merged by `nsq_core::admin`.
//! A question fails only when no node answered; otherwise the failures come
//! back as warnings beside what was found.

use super::client::Upstream;
use crate::clock;
use nsq_core::admin::action::{Action, Target};
use nsq_core::admin::input::{
    parse, LookupdChannels, LookupdProducers, LookupdTopics, NodeStatsDoc, NsqdInfo,
};
use nsq_core::admin::producer::{finish_nsqd_nodes, merge_lookupd_nodes, merge_topic_producers};
use nsq_core::admin::query;
use nsq_core::admin::{gather, node_topics, AdminOptions, Gathered, Producer, TopicStats};
use std::future::Future;

/// Where the cluster is known from.
#[derive(Debug, Clone)]
pub enum Sources {
    Lookupds(Vec<String>),
    Nsqds(Vec<String>),
}

impl Sources {
    pub fn of(opts: &AdminOptions) -> Sources {
        if opts.nsqlookupd_http_addresses.is_empty() {
            Sources::Nsqds(opts.nsqd_http_addresses.clone())
        } else {
            Sources::Lookupds(opts.nsqlookupd_http_addresses.clone())
        }
    }
}

type Res<T> = Result<Gathered<T>, String>;

/// Runs `f` for every item at once; results in the items' order.
async fn fan_out<I, T, F, Fut>(items: Vec<I>, f: F) -> Vec<Result<T, String>>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = items.into_iter().map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(
            t.await
                .unwrap_or_else(|e| Err(format!("request task failed - {e}"))),
        );
    }
    out
}

async fn get_json<T: serde::de::DeserializeOwned>(c: &Upstream, url: &str) -> Result<T, String> {
    tracing::debug!("CI: querying {url}");
    let body = c.get_v1(url).await?;
    parse(&body)
}

#[derive(Clone)]
pub struct Cluster {
    pub client: Upstream,
}

impl Cluster {
    /// Every topic: the union of the lookupds' `/topics`, or of the nsqds' `/stats`.
    pub async fn topics(&self, src: &Sources) -> Res<Vec<String>> {
        let c = self.client.clone();
        match src {
            Sources::Lookupds(addrs) => {
                let answers = fan_out(addrs.clone(), |a| {
                    let c = c.clone();
                    async move {
                        let url = format!("http://{a}{}", query::LOOKUPD_TOPICS);
                        get_json::<LookupdTopics>(&c, &url).await.map(|t| t.topics)
                    }
                })
                .await;
                let g = gather(answers, "nsqlookupd")?;
                Ok(sorted_union(g))
            }
            Sources::Nsqds(addrs) => {
                let answers = fan_out(addrs.clone(), |a| {
                    let c = c.clone();
                    async move {
                        let url = format!("http://{a}{}", query::nsqd_stats("", "", false));
                        let doc: NodeStatsDoc = get_json(&c, &url).await?;
                        Ok(doc
                            .topics
                            .into_iter()
                            .flatten()
                            .map(|t| t.topic_name)
                            .collect::<Vec<_>>())
                    }
                })
                .await;
                let g = gather(answers, "nsqd")?;
                Ok(sorted_union(g))
            }
        }
    }

    /// The channels lookupds know of for `topic`.
    pub async fn lookupd_topic_channels(
        &self,
        topic: &str,
        lookupds: &[String],
    ) -> Res<Vec<String>> {
        let c = self.client.clone();
        let path = query::lookupd_channels(topic);
        let answers = fan_out(lookupds.to_vec(), |a| {
            let (c, path) = (c.clone(), path.clone());
            async move {
                get_json::<LookupdChannels>(&c, &format!("http://{a}{path}"))
                    .await
                    .map(|r| r.channels)
            }
        })
        .await;
        Ok(sorted_union(gather(answers, "nsqlookupd")?))
    }

    /// Every node of the cluster.
    pub async fn producers(&self, src: &Sources) -> Res<Vec<Producer>> {
        match src {
            Sources::Lookupds(addrs) => {
                let c = self.client.clone();
                let answers = fan_out(addrs.clone(), |a| {
                    let c = c.clone();
                    async move {
                        let url = format!("http://{a}{}", query::LOOKUPD_NODES);
                        get_json::<LookupdProducers>(&c, &url)
                            .await
                            .map(|r| (a, r.producers))
                    }
                })
                .await;
                let g = gather(answers, "nsqlookupd")?;
                Ok(Gathered {
                    value: merge_lookupd_nodes(&g.value),
                    errors: g.errors,
                })
            }
            Sources::Nsqds(addrs) => self.nsqd_producers(addrs, None).await,
        }
    }

    /// Nodes asked directly: `/info` and the topics of `/stats` (only the
    /// nodes that carry `topic`, if given).
    async fn nsqd_producers(&self, addrs: &[String], topic: Option<&str>) -> Res<Vec<Producer>> {
        let c = self.client.clone();
        let topic = topic.map(str::to_string);
        let answers = fan_out(addrs.to_vec(), |a| {
            let (c, topic) = (c.clone(), topic.clone());
            async move {
                let stats_url = format!(
                    "http://{a}{}",
                    query::nsqd_stats(topic.as_deref().unwrap_or(""), "", false)
                );
                let doc: NodeStatsDoc = get_json(&c, &stats_url).await?;
                let names: Vec<String> = doc
                    .topics
                    .into_iter()
                    .flatten()
                    .map(|t| t.topic_name)
                    .collect();
                if let Some(t) = &topic {
                    if !names.iter().any(|n| n == t) {
                        return Ok(None);
                    }
                }
                let info: NsqdInfo =
                    get_json(&c, &format!("http://{a}{}", query::NSQD_INFO)).await?;
                Ok(Some(Producer::from_nsqd(&a, &info, names)))
            }
        })
        .await;
        let g = gather(answers, "nsqd")?;
        Ok(Gathered {
            value: finish_nsqd_nodes(g.value.into_iter().flatten().collect()),
            errors: g.errors,
        })
    }

    /// The nodes that carry `topic`.
    pub async fn topic_producers(&self, topic: &str, src: &Sources) -> Res<Vec<Producer>> {
        match src {
            Sources::Lookupds(addrs) => self.lookupd_topic_producers(topic, addrs).await,
            Sources::Nsqds(addrs) => self.nsqd_producers(addrs, Some(topic)).await,
        }
    }

    pub async fn lookupd_topic_producers(
        &self,
        topic: &str,
        lookupds: &[String],
    ) -> Res<Vec<Producer>> {
        let c = self.client.clone();
        let path = query::lookupd_lookup(topic);
        let answers = fan_out(lookupds.to_vec(), |a| {
            let (c, path) = (c.clone(), path.clone());
            async move {
                get_json::<LookupdProducers>(&c, &format!("http://{a}{path}"))
                    .await
                    .map(|r| r.producers)
            }
        })
        .await;
        let g = gather(answers, "nsqlookupd")?;
        Ok(Gathered {
            value: merge_topic_producers(&g.value),
            errors: g.errors,
        })
    }

    /// Every node's `/stats` (narrowed to `topic`/`channel` if given) as rows.
    pub async fn stats(
        &self,
        producers: &[Producer],
        topic: &str,
        channel: &str,
        include_clients: bool,
    ) -> Res<Vec<TopicStats>> {
        let c = self.client.clone();
        let path = query::nsqd_stats(topic, channel, include_clients);
        let topic = topic.to_string();
        let answers = fan_out(producers.to_vec(), |p| {
            let (c, path, topic) = (c.clone(), path.clone(), topic.clone());
            async move {
                let addr = p.http_address();
                let doc: NodeStatsDoc = get_json(&c, &format!("http://{addr}{path}")).await?;
                Ok(node_topics(&addr, &p.hostname, &doc, &topic, clock::now()))
            }
        })
        .await;
        let g = gather(answers, "nsqd")?;
        Ok(Gathered {
            value: g.value.into_iter().flatten().collect(),
            errors: g.errors,
        })
    }

    /// POSTs `path` to every address; errors collected (none is fatal).
    async fn post_all(&self, addrs: Vec<String>, path: &str) -> Vec<String> {
        let c = self.client.clone();
        let path = path.to_string();
        fan_out(addrs, |a| {
            let (c, path) = (c.clone(), path.clone());
            async move {
                let url = format!("http://{a}{path}");
                tracing::info!("CI: POST {url}");
                c.post_v1(&url).await
            }
        })
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
    }

    /// Creates a topic (and channel): in every lookupd, and the channel on
    /// every node that carries the topic. Without lookupds, on every nsqd.
    pub async fn create(&self, target: Target<'_>, src: &Sources) -> Res<()> {
        let mut out = Gathered::ok(());
        match src {
            Sources::Lookupds(lookupds) => {
                let topic = Target::Topic(target.topic());
                out.errors
                    .extend(self.post_all(lookupds.clone(), &topic.create_path()).await);
                if let Target::Channel(..) = target {
                    out.errors
                        .extend(self.post_all(lookupds.clone(), &target.create_path()).await);
                    let producers = self
                        .lookupd_topic_producers(target.topic(), lookupds)
                        .await?;
                    let producers = out.absorb(producers);
                    let addrs = producers.iter().map(Producer::http_address).collect();
                    out.errors
                        .extend(self.post_all(addrs, &target.create_path()).await);
                }
            }
            Sources::Nsqds(nsqds) => {
                // Go nsqadmin does nothing here; creating on each node is what
                // an operator without lookupds means.
                out.errors.extend(
                    self.post_all(nsqds.clone(), &Target::Topic(target.topic()).create_path())
                        .await,
                );
                if let Target::Channel(..) = target {
                    out.errors
                        .extend(self.post_all(nsqds.clone(), &target.create_path()).await);
                }
            }
        }
        Ok(out)
    }

    /// Deletes a topic or channel: from every lookupd, then from every node
    /// that carried the topic (found first).
    pub async fn delete(&self, target: Target<'_>, src: &Sources) -> Res<()> {
        let mut out = Gathered::ok(());
        let producers = self.topic_producers(target.topic(), src).await?;
        let producers = out.absorb(producers);
        if let Sources::Lookupds(lookupds) = src {
            out.errors
                .extend(self.post_all(lookupds.clone(), &target.delete_path()).await);
        }
        let addrs = producers.iter().map(Producer::http_address).collect();
        out.errors
            .extend(self.post_all(addrs, &target.delete_path()).await);
        Ok(out)
    }

    /// Pauses, unpauses or empties a topic or channel on every node that has it.
    pub async fn act(&self, action: Action, target: Target<'_>, src: &Sources) -> Res<()> {
        let mut out = Gathered::ok(());
        let producers = self.topic_producers(target.topic(), src).await?;
        let producers = out.absorb(producers);
        let addrs = producers.iter().map(Producer::http_address).collect();
        out.errors
            .extend(self.post_all(addrs, &action.nsqd_path(target)).await);
        Ok(out)
    }

    /// Tombstones `node`'s `topic` in every lookupd and deletes the topic
    /// from that node.
    pub async fn tombstone(&self, topic: &str, node: &str, lookupds: &[String]) -> Res<()> {
        let mut out = Gathered::ok(());
        out.errors.extend(
            self.post_all(lookupds.to_vec(), &query::lookupd_tombstone(topic, node))
                .await,
        );
        let producers = self.nsqd_producers(&[node.to_string()], None).await;
        let producers = match producers {
            Ok(p) => out.absorb(p),
            Err(e) => {
                out.errors.push(e);
                Vec::new()
            }
        };
        let addrs = producers.iter().map(Producer::http_address).collect();
        out.errors.extend(
            self.post_all(addrs, &Target::Topic(topic).delete_path())
                .await,
        );
        Ok(out)
    }
}

fn sorted_union(g: Gathered<Vec<Vec<String>>>) -> Gathered<Vec<String>> {
    let mut all: Vec<String> = g.value.into_iter().flatten().collect();
    all.sort();
    all.dedup();
    Gathered {
        value: all,
        errors: g.errors,
    }
}
