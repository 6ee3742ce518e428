//! How nsqadmin reports trouble: a question put to several nodes succeeds
//! when any node answers; the others' errors travel along and show up as the
//! answer's `message` ("WARNING: ..."). Only when every node failed is the
//! request an error (502 `UPSTREAM_ERROR: failed to query any ...`).

/// What was gathered, and what went wrong on the way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gathered<T> {
    pub value: T,
    pub errors: Vec<String>,
}

impl<T> Gathered<T> {
    pub fn ok(value: T) -> Self {
        Gathered {
            value,
            errors: Vec::new(),
        }
    }

    /// Adds the errors of another step.
    pub fn absorb<U>(&mut self, other: Gathered<U>) -> U {
        self.errors.extend(other.errors);
        other.value
    }

    /// Go's partial error text: the errors, one per line (`None` if none).
    pub fn partial_text(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| self.errors.join("\n"))
    }
}

/// Collects the answers of every `what` asked ("nsqd", "nsqlookupd"): an
/// error only when all of them failed. Asking nobody is not an error (Go
/// v1.3.0 reports `failed to query any nsqd: ` for a topic without nodes).
pub fn gather<T>(answers: Vec<Result<T, String>>, what: &str) -> Result<Gathered<Vec<T>>, String> {
    let asked = answers.len();
    let mut out = Gathered::ok(Vec::with_capacity(asked));
    for a in answers {
        match a {
            Ok(v) => out.value.push(v),
            Err(e) => out.errors.push(e),
        }
    }
    if asked > 0 && out.value.is_empty() {
        return Err(format!(
            "failed to query any {what}: {}",
            out.errors.join("\n")
        ));
    }
    Ok(out)
}

/// The `message` of an answer: `""`, or `WARNING: ` and the partial errors
/// of each step, separated by `; `.
pub fn warning_message(messages: &[String]) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!("WARNING: {}", messages.join("; "))
    }
}

/// The upstream error of an HTTP answer other than 200, as Go's client
/// words it: `got response 404 Not Found "{\"message\":\"TOPIC_NOT_FOUND\"}"`.
pub fn http_status_error(status: u16, reason: &str, body: &[u8]) -> String {
    format!(
        "got response {status} {reason} {}",
        crate::wire::goquote::go_quote(body)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_failed_is_an_error_some_failed_is_a_warning() {
        let all: Vec<Result<u8, String>> = vec![Err("a".into()), Err("b".into())];
        assert_eq!(
            gather(all, "nsqd"),
            Err("failed to query any nsqd: a\nb".to_string())
        );
        let some = vec![Ok(1), Err("down".to_string()), Ok(3)];
        let g = gather(some, "nsqd").unwrap();
        assert_eq!(g.value, vec![1, 3]);
        assert_eq!(g.partial_text().as_deref(), Some("down"));
        let none: Vec<Result<u8, String>> = vec![];
        assert_eq!(gather(none, "nsqd").unwrap(), Gathered::ok(vec![]));
    }

    #[test]
    fn messages_read_like_nsqs() {
        assert_eq!(warning_message(&[]), "");
        assert_eq!(
            warning_message(&["a\nb".into(), "c".into()]),
            "WARNING: a\nb; c"
        );
        assert_eq!(
            http_status_error(404, "Not Found", br#"{"message":"TOPIC_NOT_FOUND"}"#),
            r#"got response 404 Not Found "{\"message\":\"TOPIC_NOT_FOUND\"}""#
        );
    }
}
