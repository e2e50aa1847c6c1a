//! API keys: which keys are valid (the `API_KEYS` / `API_KEY` secrets), who a key belongs to, and
//! a comparison whose time does not depend on where the keys differ.

/// The keys a deployment accepts. Empty means "not configured": the gateway then refuses to serve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// From keys shaped `sk-<user>-<random>`, or a stored key's record; `default` otherwise.
    pub user: String,
    /// A stored key's own model list (names, ids or `prefix*`); `None`: the deployment's.
    pub models: Option<Vec<String>>,
}

/// A key stored in `GATEWAY_KV` under `keys/<sha-256 of the key, hex>`: who it is for, and
/// optionally when it stops working and which models it may use. Written by `scripts/new-key`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct StoredKey {
    pub user: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<u64>,
    /// Unix seconds after which the key is refused.
    #[serde(default)]
    pub expires: Option<u64>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
}

/// The KV key under which a stored key's record lives.
pub fn stored_key_name(key_sha256_hex: &str) -> String {
    format!("keys/{key_sha256_hex}")
}

/// Reads a stored key's record: `Ok(caller)`, or the 401 to give (expired, unreadable).
pub fn caller_from_record(
    record: &str,
    now_seconds: u64,
) -> Result<Caller, crate::error::GatewayError> {
    use crate::error::GatewayError;
    let stored: StoredKey = serde_json::from_str(record).map_err(|_| {
        GatewayError::Unauthorized(
            "This API key's record is unreadable; ask the gateway's operator for a new key.".into(),
        )
    })?;
    if stored.expires.is_some_and(|expires| now_seconds >= expires) {
        return Err(GatewayError::Unauthorized(
            "This API key has expired; ask the gateway's operator for a new one.".into(),
        ));
    }
    let user = stored.user.trim();
    Ok(Caller {
        user: if user.is_empty() {
            "default".into()
        } else {
            user.to_owned()
        },
        models: stored.models.filter(|m| !m.is_empty()),
    })
}

impl KeyRing {
    /// `API_KEYS` is comma-separated (newlines and spaces tolerated); `API_KEY` adds one more.
    pub fn from_secrets(api_keys: Option<&str>, api_key: Option<&str>) -> Self {
        let keys = api_keys
            .into_iter()
            .chain(api_key)
            .flat_map(|list| list.split([',', '\n']))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        KeyRing { keys }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks `presented` against every key, without stopping at the first match.
    pub fn authenticate(&self, presented: &str) -> Option<Caller> {
        let mut matched: Option<&str> = None;
        for key in &self.keys {
            if constant_time_eq(key.as_bytes(), presented.as_bytes()) {
                matched = Some(key);
            }
        }
        matched.map(|key| Caller {
            user: user_of_key(key).to_owned(),
            models: None,
        })
    }
}

/// `sk-alice-8f3a…` → `alice`; `sk-team-a-8f3a…` → `team-a`; anything else → `default`.
pub fn user_of_key(key: &str) -> &str {
    key.strip_prefix("sk-")
        .and_then(|rest| rest.rsplit_once('-'))
        .map(|(user, _)| user)
        .filter(|user| !user.is_empty())
        .unwrap_or("default")
}

/// The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
pub fn presented_key<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    let bearer = authorization.and_then(|value| {
        let value = value.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    bearer
        .or(x_api_key.map(str::trim))
        .filter(|key| !key.is_empty())
}

/// Equality whose running time depends only on the lengths, not on the position of a difference.
pub fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut diff = (expected.len() ^ presented.len()) as u64;
    let len = expected.len().max(presented.len());
    for i in 0..len {
        let a = expected.get(i).copied().unwrap_or(0);
        let b = presented.get(i).copied().unwrap_or(0xff);
        diff |= u64::from(a ^ b);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_both_secrets() {
        let ring = KeyRing::from_secrets(Some(" sk-alice-111 , sk-team-a-222\n"), Some("plainkey"));
        assert_eq!(ring.authenticate("sk-alice-111").unwrap().user, "alice");
        assert_eq!(ring.authenticate("sk-team-a-222").unwrap().user, "team-a");
        assert_eq!(ring.authenticate("plainkey").unwrap().user, "default");
        assert!(ring.authenticate("sk-alice-11").is_none());
        assert!(ring.authenticate("").is_none());
        assert!(KeyRing::from_secrets(Some(" , "), None).is_empty());
        assert!(KeyRing::from_secrets(None, None).is_empty());
    }

    #[test]
    fn stored_key_records() {
        let caller = caller_from_record(
            r#"{"user":"bob","created":1,"expires":2000,"models":["gpt-4"]}"#,
            1999,
        )
        .unwrap();
        assert_eq!(caller.user, "bob");
        assert_eq!(caller.models, Some(vec!["gpt-4".to_owned()]));
        let expired = caller_from_record(r#"{"user":"bob","expires":2000}"#, 2000).unwrap_err();
        assert_eq!(expired.status(), 401);
        assert!(expired.to_string().contains("expired"));
        assert_eq!(caller_from_record("nope", 0).unwrap_err().status(), 401);
        let open = caller_from_record(r#"{"user":" ","models":[]}"#, 0).unwrap();
        assert_eq!(
            open,
            Caller {
                user: "default".into(),
                models: None
            }
        );
        assert_eq!(stored_key_name("ab12"), "keys/ab12");
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"a\xff", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn presented_key_from_headers() {
        assert_eq!(presented_key(Some("Bearer sk-x"), None), Some("sk-x"));
        assert_eq!(presented_key(Some("bearer  sk-x "), None), Some("sk-x"));
        assert_eq!(presented_key(None, Some("sk-y")), Some("sk-y"));
        assert_eq!(presented_key(Some("Basic abc"), Some("sk-y")), Some("sk-y"));
        assert_eq!(presented_key(Some("Bearer "), None), None);
        assert_eq!(presented_key(None, None), None);
        assert_eq!(user_of_key("sk--x"), "default");
    }
}
