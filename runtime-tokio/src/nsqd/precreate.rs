//! NSQ's channel pre-creation: a new topic asks every known lookupd
//! (`GET /channels?topic=`) which channels it has elsewhere and creates them
//! before its first message flows, so every channel gets every message.
//! Until then the topic is held (it takes messages and keeps them).

use super::shared::Deliver;
use super::Inner;
use crate::clock;
#[cfg(not(madsim))]
use std::sync::Weak;

/// Creates `channels` in the held topic `topic` and starts it.
pub(crate) fn start_held(inner: &Inner, topic: &str, channels: &[String]) {
    let Some(cell) = inner.registry.get(topic) else {
        return;
    };
    let mut st = cell.lock();
    if st.deleted || !st.topic.is_held() {
        return;
    }
    let now = clock::now();
    for c in channels {
        st.topic
            .get_or_create_channel(c, now, &mut Deliver::default());
    }
    st.topic.start(now, &mut Deliver::default());
    cell.after_op(&mut st);
}

/// Asks `lookupds` for `topic`'s channels, then creates them and starts the topic.
#[cfg(not(madsim))]
pub(crate) async fn run(
    inner: Weak<Inner>,
    topic: String,
    lookupds: Vec<String>,
    timeouts: crate::http_client::Timeouts,
) {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        channels: Option<Vec<String>>,
    }
    let path = format!(
        "/channels?topic={}",
        form_urlencoded::byte_serialize(topic.as_bytes()).collect::<String>()
    );
    let queries: Vec<_> = lookupds
        .iter()
        .map(|addr| {
            tracing::info!("CI: querying nsqlookupd http://{addr}{path}");
            let (addr, path) = (addr.clone(), path.clone());
            tokio::spawn(async move {
                let body = crate::http_client::get_v1(&addr, &path, timeouts).await?;
                serde_json::from_slice::<Answer>(&body)
                    .map(|a| a.channels.unwrap_or_default())
                    .map_err(|e| format!("{addr}: {e}"))
            })
        })
        .collect();
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    for q in queries {
        match q.await {
            Ok(Ok(list)) => answers.push(list),
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        tracing::warn!(
            "failed to query nsqlookupd for channels to pre-create for topic {topic} - {}",
            errors.join("; ")
        );
    }
    let channels = nsq_core::lookup::registrar::channels_to_precreate(answers);
    if let Some(inner) = inner.upgrade() {
        start_held(&inner, &topic, &channels);
    }
}
