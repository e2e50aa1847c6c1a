//! CORS: which origins may call the gateway from a browser (the `ALLOWED_ORIGINS` var).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsPolicy {
    AnyOrigin,
    Origins(Vec<String>),
}

const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const DEFAULT_ALLOW_HEADERS: &str = "Authorization, Content-Type, X-API-Key, OpenAI-Organization, OpenAI-Project, OpenAI-Beta, Idempotency-Key, X-Request-Id, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Retry-Count, X-Stainless-Timeout";
const EXPOSE_HEADERS: &str = "X-Request-Id, Retry-After, X-Gateway-Model";

impl CorsPolicy {
    /// `*` or empty → any origin; otherwise a comma-separated list of exact origins.
    pub fn parse(allowed_origins: Option<&str>) -> Self {
        let list: Vec<String> = allowed_origins
            .unwrap_or("*")
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if list.is_empty() || list.iter().any(|o| o == "*") {
            CorsPolicy::AnyOrigin
        } else {
            CorsPolicy::Origins(list)
        }
    }

    /// Headers for a normal response. A disallowed origin gets no `Access-Control-*` headers,
    /// so the browser blocks it. With a list, every response varies by `Origin`, so a shared
    /// cache never hands one origin's answer to another.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let allow_origin = match (self, origin) {
            (CorsPolicy::AnyOrigin, _) => Some("*".to_owned()),
            (CorsPolicy::Origins(list), Some(origin)) if list.iter().any(|o| o == origin) => {
                Some(origin.to_owned())
            }
            _ => None,
        };
        let mut headers = Vec::new();
        if matches!(self, CorsPolicy::Origins(_)) {
            headers.push(("vary", "Origin".to_owned()));
        }
        if let Some(allow_origin) = allow_origin {
            headers.push(("access-control-allow-origin", allow_origin));
            headers.push(("access-control-expose-headers", EXPOSE_HEADERS.to_owned()));
        }
        headers
    }

    fn allows(&self, headers: &[(&'static str, String)]) -> bool {
        headers
            .iter()
            .any(|(name, _)| *name == "access-control-allow-origin")
    }

    /// Headers for an `OPTIONS` preflight.
    pub fn preflight_headers(
        &self,
        origin: Option<&str>,
        requested_headers: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let mut headers = self.response_headers(origin);
        if !self.allows(&headers) {
            return headers;
        }
        headers.push(("access-control-allow-methods", ALLOW_METHODS.to_owned()));
        let allow_headers = requested_headers
            .filter(|h| !h.trim().is_empty())
            .unwrap_or(DEFAULT_ALLOW_HEADERS);
        headers.push(("access-control-allow-headers", allow_headers.to_owned()));
        headers.push(("access-control-max-age", "86400".to_owned()));
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn any_origin_by_default() {
        let policy = CorsPolicy::parse(None);
        assert_eq!(policy, CorsPolicy::AnyOrigin);
        let h = policy.preflight_headers(
            Some("https://a.example"),
            Some("authorization, content-type"),
        );
        assert_eq!(get(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            get(&h, "access-control-allow-headers"),
            Some("authorization, content-type")
        );
        assert!(get(&h, "access-control-allow-methods")
            .unwrap()
            .contains("POST"));
    }

    #[test]
    fn listed_origins_only() {
        let policy = CorsPolicy::parse(Some("https://a.example/, https://b.example"));
        let h = policy.response_headers(Some("https://a.example"));
        assert_eq!(
            get(&h, "access-control-allow-origin"),
            Some("https://a.example")
        );
        assert_eq!(get(&h, "vary"), Some("Origin"));
        let evil = policy.response_headers(Some("https://evil.example"));
        assert_eq!(get(&evil, "access-control-allow-origin"), None);
        assert_eq!(get(&evil, "vary"), Some("Origin"));
        assert_eq!(
            get(
                &policy.preflight_headers(None, None),
                "access-control-allow-methods"
            ),
            None
        );
        assert_eq!(
            CorsPolicy::AnyOrigin.response_headers(None).len(),
            2,
            "no Vary with *"
        );
    }
}
