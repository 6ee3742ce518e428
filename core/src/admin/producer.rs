//! The nsqd nodes of a cluster ("producers" in NSQ's words), as nsqlookupd
//! lists them or as each nsqd describes itself, merged over every lookupd.

use super::input::{LookupdProducer, NsqdInfo};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProducerTopic {
    pub topic: String,
    pub tombstoned: bool,
}

/// A node in `/api/nodes` (NSQ's `clusterinfo.Producer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Producer {
    /// `lookupd/remote address` of each lookupd the node is connected to
    /// (`null` when nsqadmin talks to nsqd directly).
    pub remote_addresses: Option<Vec<String>>,
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    /// Sorted by name; `null` when there are none (as in NSQ).
    pub topics: Option<Vec<ProducerTopic>>,
    /// Older than the newest version in the cluster.
    pub out_of_date: bool,
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
pub fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's `net.SplitHostPort` for the addresses nsqadmin is given.
pub fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port));
    }
    let (host, port) = addr.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

impl Producer {
    /// A lookupd's record of a node; its topics sorted by name.
    pub fn from_lookupd(p: &LookupdProducer) -> Producer {
        let mut topics: Vec<ProducerTopic> = p
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| ProducerTopic {
                topic: t.clone(),
                // Go indexes the parallel list blindly (and panics when short).
                tombstoned: p.tombstones.get(i).copied().unwrap_or(false),
            })
            .collect();
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        Producer {
            remote_addresses: None,
            remote_address: p.remote_address.clone(),
            hostname: p.hostname.clone(),
            broadcast_address: p.broadcast_address.clone(),
            tcp_port: p.tcp_port,
            http_port: p.http_port,
            version: p.version.clone(),
            topics: (!topics.is_empty()).then_some(topics),
            out_of_date: false,
        }
    }

    /// A node asked directly at `addr` (`/info`, plus the topics of its
    /// `/stats`). A node too old to report its broadcast address or host
    /// name is known by the address it was asked at.
    pub fn from_nsqd(addr: &str, info: &NsqdInfo, topics: Vec<String>) -> Producer {
        let (mut broadcast, mut http_port, mut hostname) = (
            info.broadcast_address.clone(),
            info.http_port,
            info.hostname.clone(),
        );
        let split = split_host_port(addr);
        if broadcast.is_empty() {
            if let Some((h, p)) = split {
                broadcast = h.to_string();
                http_port = p.parse().unwrap_or(0);
            }
        }
        if hostname.is_empty() {
            hostname = split.map(|(h, _)| h.to_string()).unwrap_or_default();
        }
        let topics: Vec<ProducerTopic> = topics
            .into_iter()
            .map(|topic| ProducerTopic {
                topic,
                tombstoned: false,
            })
            .collect();
        Producer {
            remote_addresses: None,
            remote_address: String::new(),
            hostname,
            broadcast_address: broadcast,
            tcp_port: info.tcp_port,
            http_port,
            version: info.version.clone(),
            topics: (!topics.is_empty()).then_some(topics),
            out_of_date: false,
        }
    }

    /// `broadcast_address:http_port`: how nsqadmin reaches and names the node.
    pub fn http_address(&self) -> String {
        join_host_port(&self.broadcast_address, self.http_port)
    }

    pub fn tcp_address(&self) -> String {
        join_host_port(&self.broadcast_address, self.tcp_port)
    }

    /// As NSQ shows a missing remote address.
    fn address(&self) -> &str {
        if self.remote_address.is_empty() {
            "N/A"
        } else {
            &self.remote_address
        }
    }
}

/// Every lookupd's `/nodes` (with the lookupd's address) merged into one
/// list: a node is one TCP address, listed once with each lookupd it is
/// connected to; nodes older than the newest are out of date. Sorted by
/// host name, then address.
pub fn merge_lookupd_nodes(answers: &[(String, Vec<LookupdProducer>)]) -> Vec<Producer> {
    let mut by_addr: BTreeMap<String, Producer> = BTreeMap::new();
    let mut newest = Version::zero();
    for (lookupd, producers) in answers {
        for lp in producers {
            let p = Producer::from_lookupd(lp);
            let via = format!("{lookupd}/{}", p.address());
            let entry = by_addr.entry(p.tcp_address()).or_insert_with(|| {
                let v = Version::parse(&p.version);
                if newest < v {
                    newest = v;
                }
                p
            });
            entry
                .remote_addresses
                .get_or_insert_with(Vec::new)
                .push(via);
        }
    }
    let mut out: Vec<Producer> = by_addr.into_values().collect();
    for p in &mut out {
        p.out_of_date = Version::parse(&p.version) < newest;
    }
    sort_by_host(&mut out);
    out
}

/// Marks nodes older than the newest as out of date and sorts them (for
/// nodes asked directly).
pub fn finish_nsqd_nodes(mut nodes: Vec<Producer>) -> Vec<Producer> {
    let newest = nodes
        .iter()
        .map(|p| Version::parse(&p.version))
        .max()
        .unwrap_or_else(Version::zero);
    for p in &mut nodes {
        p.out_of_date = Version::parse(&p.version) < newest;
    }
    sort_by_host(&mut nodes);
    nodes
}

fn sort_by_host(nodes: &mut [Producer]) {
    nodes.sort_by(|a, b| {
        (a.hostname.as_str(), a.http_address()).cmp(&(b.hostname.as_str(), b.http_address()))
    });
}

/// Every lookupd's `/lookup?topic=` producers, each node (HTTP address) once,
/// in the order first seen.
pub fn merge_topic_producers(answers: &[Vec<LookupdProducer>]) -> Vec<Producer> {
    let mut out: Vec<Producer> = Vec::new();
    for lp in answers.iter().flatten() {
        let p = Producer::from_lookupd(lp);
        if !out.iter().any(|q| q.http_address() == p.http_address()) {
            out.push(p);
        }
    }
    out
}

/// The node whose HTTP address is `node`.
pub fn search<'a>(nodes: &'a [Producer], node: &str) -> Option<&'a Producer> {
    nodes.iter().find(|p| p.http_address() == node)
}

/// A semantic version, compared as blang/semver compares (what NSQ uses to
/// spot out-of-date nodes); anything unparsable is 0.0.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    core: [u64; 3],
    pre: Vec<String>,
}

impl Version {
    fn zero() -> Self {
        Version {
            core: [0; 3],
            pre: Vec::new(),
        }
    }

    pub fn parse(s: &str) -> Version {
        Self::try_parse(s).unwrap_or_else(Self::zero)
    }

    fn try_parse(s: &str) -> Option<Version> {
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_string).collect()),
            None => (s, Vec::new()),
        };
        let mut parts = core.split('.');
        let mut num = || -> Option<u64> {
            let p = parts.next()?;
            if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
                return None;
            }
            p.parse().ok()
        };
        let v = [num()?, num()?, num()?];
        if parts.next().is_some() {
            return None;
        }
        Some(Version { core: v, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(
        addr: &str,
        host: &str,
        tcp: i64,
        http: i64,
        v: &str,
        topics: &[&str],
    ) -> LookupdProducer {
        LookupdProducer {
            remote_address: addr.into(),
            hostname: host.into(),
            broadcast_address: "10.0.0.1".into(),
            tcp_port: tcp,
            http_port: http,
            version: v.into(),
            topics: topics.iter().map(|s| s.to_string()).collect(),
            tombstones: vec![true],
        }
    }

    #[test]
    fn versions_compare_like_semver() {
        let v = Version::parse;
        assert!(v("1.2.1") < v("1.3.0"));
        assert!(v("1.3.0-alpha") < v("1.3.0"));
        assert!(v("1.3.0-alpha.1") < v("1.3.0-alpha.beta"));
        assert!(v("1.3.0-2") < v("1.3.0-10"));
        assert!(v("1.3.0-a") < v("1.3.0-a.1"));
        assert_eq!(v("1.3.0+build"), v("1.3.0"));
        assert_eq!(v("garbage"), v("0.0.0"));
        assert_eq!(v("1.3"), v("0.0.0"));
        assert_eq!(v("01.3.0"), v("0.0.0"));
    }

    #[test]
    fn addresses_join_and_split_like_go() {
        assert_eq!(join_host_port("fd4a::1", 4151), "[fd4a::1]:4151");
        assert_eq!(join_host_port("h.example", 4151), "h.example:4151");
        assert_eq!(split_host_port("[::1]:4151"), Some(("::1", "4151")));
        assert_eq!(split_host_port("h:1"), Some(("h", "1")));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("h"), None);
    }

    #[test]
    fn lookupd_nodes_merge_per_tcp_address() {
        let a = vec![
            lp("1.1.1.1:5", "b-host", 4150, 4151, "1.3.0", &["z", "a"]),
            lp("1.1.1.1:6", "a-host", 4250, 4251, "1.2.1", &[]),
        ];
        let b = vec![lp("", "b-host", 4150, 4151, "1.3.0", &["z", "a"])];
        let nodes = merge_lookupd_nodes(&[("l1:4161".into(), a), ("l2:4161".into(), b)]);
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].hostname, "a-host");
        assert!(nodes[0].out_of_date);
        assert_eq!(nodes[0].topics, None);
        let n = &nodes[1];
        assert!(!n.out_of_date);
        assert_eq!(
            n.remote_addresses.as_deref(),
            Some(&["l1:4161/1.1.1.1:5".to_string(), "l2:4161/N/A".to_string()][..])
        );
        let topics = n.topics.as_ref().unwrap();
        assert_eq!(
            (topics[0].topic.as_str(), topics[0].tombstoned),
            ("a", false)
        );
        assert_eq!(
            (topics[1].topic.as_str(), topics[1].tombstoned),
            ("z", true)
        );
        assert_eq!(
            search(&nodes, "10.0.0.1:4151").map(|p| p.tcp_port),
            Some(4150)
        );
        assert_eq!(search(&nodes, "10.0.0.1:1"), None);
    }

    #[test]
    fn topic_producers_are_unique_by_http_address() {
        let one = lp("x", "h", 1, 2, "1.3.0", &[]);
        let mut other = one.clone();
        other.http_port = 3;
        let merged = merge_topic_producers(&[vec![one.clone(), other], vec![one]]);
        let addrs: Vec<String> = merged.iter().map(Producer::http_address).collect();
        assert_eq!(addrs, ["10.0.0.1:2", "10.0.0.1:3"]);
    }

    #[test]
    fn a_node_asked_directly_falls_back_to_its_address() {
        let old = NsqdInfo {
            version: "0.2.0".into(),
            ..NsqdInfo::default()
        };
        let p = Producer::from_nsqd("[::1]:4151", &old, vec!["t".into()]);
        assert_eq!(
            (
                p.broadcast_address.as_str(),
                p.http_port,
                p.hostname.as_str()
            ),
            ("::1", 4151, "::1")
        );
        assert_eq!(p.http_address(), "[::1]:4151");
        let new = NsqdInfo {
            version: "1.3.0".into(),
            broadcast_address: "b".into(),
            hostname: "h".into(),
            http_port: 9,
            tcp_port: 8,
        };
        let q = Producer::from_nsqd("x:1", &new, vec![]);
        assert_eq!(q.http_address(), "b:9");
        let nodes = finish_nsqd_nodes(vec![q, p]);
        assert_eq!(nodes[0].hostname, "::1");
        assert!(nodes[0].out_of_date && !nodes[1].out_of_date);
    }
}
