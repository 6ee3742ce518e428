//! Administrative actions: what the API accepts (bodies checked as NSQ
//! checks them) and which requests carry them out on nsqd and nsqlookupd.

use super::query::{topic_channel_query, topic_query};
use crate::wire::names::{is_valid_channel_name, is_valid_topic_name};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A refused request: status and NSQ's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// What a topic or channel action is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Topic(&'a str),
    Channel(&'a str, &'a str),
}

impl Target<'_> {
    pub fn topic(&self) -> &str {
        match self {
            Target::Topic(t) | Target::Channel(t, _) => t,
        }
    }

    pub fn channel(&self) -> &str {
        match self {
            Target::Topic(_) => "",
            Target::Channel(_, c) => c,
        }
    }

    /// `topic` or `channel`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Topic(_) => "topic",
            Target::Channel(..) => "channel",
        }
    }

    fn query(&self) -> String {
        match self {
            Target::Topic(t) => topic_query(t),
            Target::Channel(t, c) => topic_channel_query(t, c),
        }
    }

    /// Names taken from an API path must be valid before anything is asked.
    pub fn check(&self) -> Result<(), Refusal> {
        if !is_valid_topic_name(self.topic()) {
            return Err(refuse(400, "INVALID_TOPIC"));
        }
        if let Target::Channel(_, c) = self {
            if !is_valid_channel_name(c) {
                return Err(refuse(400, "INVALID_CHANNEL"));
            }
        }
        Ok(())
    }

    /// `POST /topic/create?topic=T` or `/channel/create?topic=T&channel=C`
    /// (nsqd and nsqlookupd share these paths).
    pub fn create_path(&self) -> String {
        format!("/{}/create?{}", self.kind(), self.query())
    }

    /// `POST /topic/delete?...` or `/channel/delete?...`.
    pub fn delete_path(&self) -> String {
        format!("/{}/delete?{}", self.kind(), self.query())
    }

    /// The notification name of a creation or deletion (`create_topic`, ...).
    pub fn notification(&self, verb: &str) -> String {
        format!("{verb}_{}", self.kind())
    }
}

/// `POST /api/topics/:topic[/:channel]` with `{"action": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Unpause,
    Empty,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Unpause => "unpause",
            Action::Empty => "empty",
        }
    }

    /// The nsqd request: `POST /channel/pause?topic=T&channel=C`, ...
    pub fn nsqd_path(self, target: Target<'_>) -> String {
        format!("/{}/{}?{}", target.kind(), self.name(), target.query())
    }

    /// The notification's `action` (`pause_channel`, `empty_topic`, ...).
    pub fn notification(self, target: Target<'_>) -> String {
        format!("{}_{}", self.name(), target.kind())
    }
}

/// Go's `json.NewDecoder(body).Decode(&v)`: the first JSON value; an empty
/// body is `EOF`.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    match serde_json::Deserializer::from_slice(body)
        .into_iter::<T>()
        .next()
    {
        None => Err("EOF".to_string()),
        Some(r) => r.map_err(|e| e.to_string()),
    }
}

/// `POST /api/topics`: `{"topic": T, "channel": C}`; the channel may be empty.
pub fn parse_create(body: &[u8]) -> Result<(String, String), Refusal> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Body {
        topic: Option<String>,
        channel: Option<String>,
    }
    let b: Option<Body> = decode(body).map_err(|e| refuse(400, e))?;
    let b = b.unwrap_or_default();
    let (topic, channel) = (b.topic.unwrap_or_default(), b.channel.unwrap_or_default());
    if !is_valid_topic_name(&topic) {
        return Err(refuse(400, "INVALID_TOPIC"));
    }
    if !channel.is_empty() && !is_valid_channel_name(&channel) {
        return Err(refuse(400, "INVALID_CHANNEL"));
    }
    Ok((topic, channel))
}

/// `{"action": "pause" | "unpause" | "empty"}`.
pub fn parse_action(body: &[u8]) -> Result<Action, Refusal> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Body {
        action: Option<String>,
    }
    let b: Option<Body> = decode(body).map_err(|e| refuse(400, e))?;
    match b.unwrap_or_default().action.as_deref() {
        Some("pause") => Ok(Action::Pause),
        Some("unpause") => Ok(Action::Unpause),
        Some("empty") => Ok(Action::Empty),
        _ => Err(refuse(400, "INVALID_ACTION")),
    }
}

/// `DELETE /api/nodes/:node` with `{"topic": T}`: the topic to tombstone.
pub fn parse_tombstone(body: &[u8]) -> Result<String, Refusal> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Body {
        topic: Option<String>,
    }
    let b: Option<Body> = decode(body).map_err(|_| refuse(400, "INVALID_BODY"))?;
    let topic = b.unwrap_or_default().topic.unwrap_or_default();
    if !is_valid_topic_name(&topic) {
        return Err(refuse(400, "INVALID_TOPIC"));
    }
    Ok(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_like_nsqs() {
        assert_eq!(
            parse_create(br#"{"topic":"t","channel":""}"#),
            Ok(("t".into(), String::new()))
        );
        assert_eq!(
            parse_create(br#"{"topic":"t","channel":"c#ephemeral"} trailing"#),
            Ok(("t".into(), "c#ephemeral".into()))
        );
        assert_eq!(parse_create(b"").unwrap_err(), refuse(400, "EOF"));
        assert_eq!(parse_create(b"  \n").unwrap_err(), refuse(400, "EOF"));
        assert_eq!(
            parse_create(b"null").unwrap_err(),
            refuse(400, "INVALID_TOPIC")
        );
        assert_eq!(
            parse_create(br#"{"topic":"bad!"}"#).unwrap_err(),
            refuse(400, "INVALID_TOPIC")
        );
        assert_eq!(
            parse_create(br#"{"topic":"t","channel":"b@d"}"#).unwrap_err(),
            refuse(400, "INVALID_CHANNEL")
        );
        let e = parse_create(br#"{"topic":5}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("invalid type"), "{}", e.message);

        assert_eq!(parse_action(br#"{"action":"pause"}"#), Ok(Action::Pause));
        assert_eq!(parse_action(br#"{"action":"empty"}"#), Ok(Action::Empty));
        assert_eq!(
            parse_action(br#"{"action":"explode"}"#).unwrap_err(),
            refuse(400, "INVALID_ACTION")
        );
        assert_eq!(
            parse_action(b"{}").unwrap_err(),
            refuse(400, "INVALID_ACTION")
        );
        assert_eq!(parse_action(b"").unwrap_err(), refuse(400, "EOF"));

        assert_eq!(parse_tombstone(br#"{"topic":"t"}"#), Ok("t".into()));
        assert_eq!(
            parse_tombstone(b"{").unwrap_err(),
            refuse(400, "INVALID_BODY")
        );
        assert_eq!(
            parse_tombstone(b"{}").unwrap_err(),
            refuse(400, "INVALID_TOPIC")
        );
    }

    #[test]
    fn requests_and_notifications() {
        let ch = Target::Channel("t#ephemeral", "c");
        assert_eq!(
            Action::Pause.nsqd_path(ch),
            "/channel/pause?topic=t%23ephemeral&channel=c"
        );
        assert_eq!(
            Action::Empty.nsqd_path(Target::Topic("t")),
            "/topic/empty?topic=t"
        );
        assert_eq!(Action::Unpause.notification(ch), "unpause_channel");
        assert_eq!(
            ch.create_path(),
            "/channel/create?topic=t%23ephemeral&channel=c"
        );
        assert_eq!(Target::Topic("t").delete_path(), "/topic/delete?topic=t");
        assert_eq!(Target::Topic("t").notification("delete"), "delete_topic");
        assert_eq!(
            Target::Topic("bad!").check(),
            Err(refuse(400, "INVALID_TOPIC"))
        );
        assert_eq!(
            Target::Channel("t", "").check(),
            Err(refuse(400, "INVALID_CHANNEL"))
        );
        assert_eq!(ch.check(), Ok(()));
    }
}
