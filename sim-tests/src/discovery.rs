//! Discovery: what every lookupd lists must be exactly what the live nsqd
//! nodes have (topics and channels, per node), once the network is whole.

use nsq_core::lookup::db::Category;
use nsq_runtime_sim::{LookupdNode, NsqdNode};
use std::collections::{BTreeMap, BTreeSet};

/// Per nsqd (`ip:port`): its topics and its `topic/channel`s.
pub type Catalog = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

/// What the live nsqd nodes have.
pub fn actual(nsqds: &[NsqdNode]) -> Catalog {
    let mut out = Catalog::new();
    for n in nsqds {
        let Some(p) = n.probe() else { continue };
        let entry = out.entry(n.tcp_addr().to_string()).or_default();
        for t in p.topics() {
            for c in &t.channels {
                entry.1.insert(format!("{}/{}", t.name, c.name));
            }
            entry.0.insert(t.name);
        }
    }
    out
}

/// What `lookupd` lists, by producer.
pub fn listed(lookupd: &LookupdNode) -> Option<Catalog> {
    let db = lookupd.db()?;
    Some(db.with(|db, _| {
        let mut out = Catalog::new();
        for (reg, producers) in db.iter() {
            for p in producers {
                let addr = format!("{}:{}", p.peer.broadcast_address, p.peer.tcp_port);
                let entry = out.entry(addr).or_default();
                match reg.category {
                    Category::Topic => {
                        entry.0.insert(reg.key.clone());
                    }
                    Category::Channel => {
                        entry.1.insert(format!("{}/{}", reg.key, reg.sub_key));
                    }
                    Category::Client => {}
                }
            }
        }
        // A node that only identified (no topics) lists nothing.
        out.retain(|_, (t, c)| !t.is_empty() || !c.is_empty());
        out
    }))
}

/// Differences between every lookupd's listing and the nsqd nodes.
pub fn differences(nsqds: &[NsqdNode], lookupds: &[LookupdNode]) -> Vec<String> {
    let mut want = actual(nsqds);
    want.retain(|_, (t, c)| !t.is_empty() || !c.is_empty());
    let mut out = Vec::new();
    for l in lookupds {
        let Some(got) = listed(l) else {
            out.push(format!("{} is down", l.name));
            continue;
        };
        if got != want {
            out.push(format!(
                "{} lists {got:?}, nsqd nodes have {want:?}",
                l.name
            ));
        }
    }
    out
}
