//! Topic and channel administration (what the HTTP API's create, delete,
//! empty and pause endpoints do): each step under the one topic's lock,
//! like the TCP commands.

use super::registry::{Registry, TopicCell, TopicState};
use super::shared::Deliver;
use nsq_core::io::Nanos;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminError {
    TopicNotFound,
    ChannelNotFound,
}

/// Runs `f` on the live topic `name`, if there is one.
fn with_topic<T>(
    reg: &Registry,
    name: &str,
    f: impl FnOnce(&Arc<TopicCell>, &mut TopicState) -> Result<T, AdminError>,
) -> Result<T, AdminError> {
    let cell = reg.get(name).ok_or(AdminError::TopicNotFound)?;
    let mut st = cell.lock();
    if st.deleted {
        return Err(AdminError::TopicNotFound);
    }
    let r = f(&cell, &mut st);
    cell.after_op(&mut st);
    let gone = st.deleted;
    drop(st);
    if gone {
        reg.retire(&cell);
    }
    r
}

/// Deletes a topic: its consumers are closed and its messages dropped.
/// Returns the deleted topic: wait for [`TopicCell::deletion_committed`]
/// before saying it is gone (no restart brings it back from then on).
pub fn delete_topic(reg: &Registry, name: &str) -> Result<Arc<TopicCell>, AdminError> {
    reg.delete(name).ok_or(AdminError::TopicNotFound)
}

/// Drops the topic's own queue (its channels keep theirs).
pub fn empty_topic(reg: &Registry, name: &str) -> Result<(), AdminError> {
    with_topic(reg, name, |_, st| {
        st.topic.empty();
        Ok(())
    })
}

pub fn pause_topic(reg: &Registry, name: &str, paused: bool, now: Nanos) -> Result<(), AdminError> {
    with_topic(reg, name, |_, st| {
        if paused {
            tracing::info!("TOPIC({name}): pausing");
            st.topic.pause();
        } else {
            tracing::info!("TOPIC({name}): unpausing");
            st.topic.unpause(now, &mut Deliver::default());
        }
        Ok(())
    })
}

pub fn create_channel(
    reg: &Registry,
    topic: &str,
    channel: &str,
    now: Nanos,
) -> Result<(), AdminError> {
    with_topic(reg, topic, |_, st| {
        if st.topic.channel(channel).is_none() {
            tracing::info!("TOPIC({topic}): new channel({channel})");
        }
        st.topic
            .get_or_create_channel(channel, now, &mut Deliver::default());
        Ok(())
    })
}

/// Deletes a channel (closing its consumers); an ephemeral topic left
/// without channels goes too, as in NSQ. Returns its topic: wait for
/// [`TopicCell::deletion_committed`] before saying the channel is gone.
pub fn delete_channel(
    reg: &Registry,
    topic: &str,
    channel: &str,
) -> Result<Arc<TopicCell>, AdminError> {
    with_topic(reg, topic, |cell, st| {
        if !st.topic.delete_channel(channel, &mut Deliver::default()) {
            return Err(AdminError::ChannelNotFound);
        }
        tracing::info!("TOPIC({topic}): deleting channel {channel}");
        tracing::info!("CHANNEL({channel}): deleting");
        if st.topic.should_vanish() {
            tracing::info!("TOPIC({topic}): deleting");
            cell.mark_deleted(st);
        }
        Ok(Arc::clone(cell))
    })
}

/// Drops a channel's queued, in-flight and deferred messages.
pub fn empty_channel(reg: &Registry, topic: &str, channel: &str) -> Result<(), AdminError> {
    with_topic(reg, topic, |_, st| {
        let ch = st
            .topic
            .channel_mut(channel)
            .ok_or(AdminError::ChannelNotFound)?;
        ch.empty();
        Ok(())
    })
}

pub fn pause_channel(
    reg: &Registry,
    topic: &str,
    channel: &str,
    paused: bool,
    now: Nanos,
) -> Result<(), AdminError> {
    with_topic(reg, topic, |_, st| {
        if st
            .topic
            .set_channel_paused(channel, paused, now, &mut Deliver::default())
        {
            Ok(())
        } else {
            Err(AdminError::ChannelNotFound)
        }
    })
}
