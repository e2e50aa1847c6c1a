//! The gateway's one error type, and the one place it becomes an HTTP status and an
//! OpenAI-shaped body (`{"error":{"message","type","param","code"}}`).

use std::borrow::Cow;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed or asks for something we cannot do.
    #[error("{message}")]
    InvalidRequest {
        message: String,
        /// A top-level field, or a path into one (`messages[2].content`).
        param: Option<Cow<'static, str>>,
        code: Option<&'static str>,
    },

    #[error("{0}")]
    Unauthorized(String),

    /// The caller exceeded the deployment's rate limit.
    #[error("{message}")]
    RateLimited { message: String, retry_after: u32 },

    /// The key is valid but may not do this (a model outside ALLOWED_MODELS, …).
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },

    #[error("Invalid URL ({method} {path}): no such endpoint. See GET /v1/models and the README for the routes this gateway serves.")]
    RouteNotFound { method: String, path: String },

    #[error("Method {method} is not allowed on {path}; use {allowed}.")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: &'static str,
    },

    #[error("The model `{model}` does not exist or is not served by this gateway. GET /v1/models lists the models and aliases you can use.")]
    ModelNotFound { model: String },

    /// An OpenAI endpoint this gateway does not serve (assistants, files, fine-tuning, …).
    #[error("`{0}` is an OpenAI endpoint this gateway does not serve: Workers AI has no equivalent. Served: chat/completions, completions, responses, embeddings, images/generations, audio/transcriptions, audio/translations, audio/speech, moderations, models.")]
    NotServed(&'static str),

    /// A stored object (a response) that does not exist, expired, or belongs to another key.
    #[error("{0}")]
    NotFound(String),

    #[error("Request body is {size} bytes; the limit is {limit} bytes (MAX_BODY_BYTES). Send a smaller request.")]
    PayloadTooLarge { size: usize, limit: usize },

    /// The deployment is missing configuration the operator must add.
    #[error("{0}")]
    Misconfigured(String),

    /// Workers AI answered with an error. `code` is its numeric error code when the message had one.
    #[error("Workers AI error{}: {message}", code.map(|c| format!(" {c}")).unwrap_or_default())]
    Upstream { code: Option<u32>, message: String },

    /// An upstream did not start answering within `UPSTREAM_TIMEOUT_MS`.
    #[error("{0}")]
    Timeout(String),

    /// The OpenAI-compatible upstream could not be reached.
    #[error("{0}")]
    Unreachable(String),

    /// The OpenAI-compatible upstream failed with a body that is not an OpenAI error; its status
    /// is kept (so a 5xx still moves a fallback chain on).
    #[error("{message}")]
    UpstreamStatus { status: u16, message: String },

    /// The OpenAI-compatible upstream refused the gateway's own key: the operator's problem, not
    /// the client's, so it is not passed on as a 401.
    #[error("{0}")]
    UpstreamRefusedKey(String),

    /// The request conflicts with one in flight (the same `Idempotency-Key`).
    #[error("{message}")]
    Conflict { message: String, code: &'static str },

    /// Well-formed, but cannot be processed as sent (an `Idempotency-Key` reused with another body).
    #[error("{message}")]
    Unprocessable { message: String, code: &'static str },

    #[error("{0}")]
    Internal(String),
}

/// How long clients should wait after a capacity error before retrying.
const CAPACITY_RETRY_AFTER_SECONDS: u32 = 10;

impl GatewayError {
    pub fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: param.map(Cow::Borrowed),
            code: None,
        }
    }

    /// A required field missing inside a list (`messages[0].content`), as OpenAI reports it.
    pub fn missing(message: impl Into<String>, param: String) -> Self {
        GatewayError::InvalidRequest {
            message: message.into(),
            param: Some(Cow::Owned(param)),
            code: Some("missing_required_parameter"),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            GatewayError::InvalidRequest { .. } => 400,
            GatewayError::Unauthorized(_) => 401,
            GatewayError::Forbidden { .. } => 403,
            GatewayError::RateLimited { .. } => 429,
            GatewayError::RouteNotFound { .. }
            | GatewayError::ModelNotFound { .. }
            | GatewayError::NotFound(_) => 404,
            GatewayError::MethodNotAllowed { .. } => 405,
            GatewayError::NotServed(_) => 501,
            GatewayError::PayloadTooLarge { .. } => 413,
            GatewayError::Misconfigured(_) | GatewayError::Internal(_) => 500,
            GatewayError::Upstream { code, .. } => upstream_status(*code),
            GatewayError::Timeout(_) => 504,
            GatewayError::UpstreamRefusedKey(_) | GatewayError::Unreachable(_) => 502,
            GatewayError::UpstreamStatus { status, .. } => *status,
            GatewayError::Conflict { .. } => 409,
            GatewayError::Unprocessable { .. } => 422,
        }
    }

    fn error_type(&self) -> &'static str {
        match self.status() {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            500..=599 => match self {
                GatewayError::Upstream { .. }
                | GatewayError::Timeout(_)
                | GatewayError::UpstreamRefusedKey(_)
                | GatewayError::Unreachable(_)
                | GatewayError::UpstreamStatus { .. } => "upstream_error",
                GatewayError::NotServed(_) => "invalid_request_error",
                _ => "server_error",
            },
            _ => "invalid_request_error",
        }
    }

    /// The OpenAI error `code` (also what the request log records).
    pub fn code(&self) -> Option<String> {
        match self {
            GatewayError::InvalidRequest { code, .. } => code.map(str::to_owned),
            GatewayError::Unauthorized(_) => Some("invalid_api_key".into()),
            GatewayError::Forbidden { code, .. } => Some((*code).into()),
            GatewayError::RateLimited { .. } => Some("rate_limit_exceeded".into()),
            GatewayError::RouteNotFound { .. } => Some("unknown_url".into()),
            GatewayError::MethodNotAllowed { .. } => Some("method_not_allowed".into()),
            GatewayError::ModelNotFound { .. } => Some("model_not_found".into()),
            GatewayError::NotFound(_) => None,
            GatewayError::NotServed(_) => Some("endpoint_not_supported".into()),
            GatewayError::PayloadTooLarge { .. } => Some("request_too_large".into()),
            GatewayError::Misconfigured(_) => Some("gateway_misconfigured".into()),
            GatewayError::Upstream { code, .. } => Some(match (code, upstream_status(*code)) {
                (Some(5007 | 3042), _) => "model_not_found".into(),
                (_, 429) => "rate_limit_exceeded".into(),
                (_, 504) => "upstream_timeout".into(),
                (Some(c), _) => format!("workers_ai_{c}"),
                (None, _) => "upstream_error".into(),
            }),
            GatewayError::Timeout(_) => Some("upstream_timeout".into()),
            GatewayError::UpstreamRefusedKey(_) => Some("upstream_auth_failed".into()),
            GatewayError::Unreachable(_) => Some("upstream_unreachable".into()),
            GatewayError::UpstreamStatus { .. } => Some("upstream_error".into()),
            GatewayError::Conflict { code, .. } | GatewayError::Unprocessable { code, .. } => {
                Some((*code).into())
            }
            GatewayError::Internal(_) => Some("internal_error".into()),
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            GatewayError::InvalidRequest { param, .. } => param.as_deref(),
            GatewayError::ModelNotFound { .. } => Some("model"),
            GatewayError::Forbidden {
                code: "model_not_allowed",
                ..
            } => Some("model"),
            GatewayError::Upstream {
                code: Some(5007 | 3042),
                ..
            } => Some("model"),
            _ => None,
        }
    }

    /// The `Allow` header of a 405.
    pub fn allowed_methods(&self) -> Option<&'static str> {
        match self {
            GatewayError::MethodNotAllowed { allowed, .. } => Some(allowed),
            _ => None,
        }
    }

    /// `Retry-After` seconds for errors a client should retry later.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            GatewayError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => (self.status() == 429).then_some(CAPACITY_RETRY_AFTER_SECONDS),
        }
    }

    pub fn to_body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                message: self.to_string(),
                r#type: self.error_type(),
                param: self.param(),
                code: self.code(),
            },
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain string fields cannot fail; fall back to a fixed body anyway.
        serde_json::to_string(&self.to_body()).unwrap_or_else(|_| {
            r#"{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}"#
                .to_owned()
        })
    }
}

/// Workers AI error codes → HTTP status (see shared/reference/NOTES.md). Where the docs give a
/// client-side status we keep it; missing-model codes become 404 so OpenAI clients see
/// `model_not_found`, and timeouts become 504 because the gateway is the one that timed out waiting.
fn upstream_status(code: Option<u32>) -> u16 {
    match code {
        Some(3040 | 3036) => 429,
        Some(5007 | 3042) => 404,
        Some(3006) => 413,
        Some(3007 | 3008) => 504,
        Some(5004 | 3003 | 3039 | 5006) => 400,
        Some(5016 | 5018 | 3023 | 3041) => 403,
        _ => 502,
    }
}

/// How `glue.js` marks the rejection of a call that outlived `UPSTREAM_TIMEOUT_MS`.
pub const TIMEOUT_MARK: &str = "gateway-timeout:";

/// Parses a Workers AI binding error message such as `3040: Capacity temporarily exceeded`
/// (possibly prefixed, e.g. `InferenceUpstreamError: 5007: No such model`).
pub fn upstream_error_from_message(raw: &str) -> GatewayError {
    let mut rest = raw.trim();
    // Our own deadline (glue.js `withTimeout`), not an error Workers AI sent.
    if let Some(message) = rest.strip_prefix(TIMEOUT_MARK) {
        let message = match message.trim() {
            "" => "The upstream did not answer in time (UPSTREAM_TIMEOUT_MS).",
            message => message,
        };
        return GatewayError::Timeout(message.to_owned());
    }
    // Skip a leading `SomeError:` class name before the code, if present.
    for _ in 0..2 {
        if let Some((head, tail)) = rest.split_once(':') {
            let head = head.trim();
            if let Ok(code) = head.parse::<u32>() {
                return GatewayError::Upstream {
                    code: Some(code),
                    message: tail.trim().to_owned(),
                };
            }
            if head.ends_with("Error") {
                rest = tail.trim();
                continue;
            }
        }
        break;
    }
    GatewayError::Upstream {
        code: None,
        message: rest.to_owned(),
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    pub message: String,
    pub r#type: &'static str,
    pub param: Option<&'a str>,
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_error_is_429_with_retry_after() {
        let err =
            upstream_error_from_message("3040: Capacity temporarily exceeded, please try again.");
        assert_eq!(err.status(), 429);
        assert_eq!(err.retry_after(), Some(10));
        let body: serde_json::Value = serde_json::from_str(&err.to_json()).unwrap();
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    }

    #[test]
    fn class_name_prefix_is_skipped() {
        let err = upstream_error_from_message("InferenceUpstreamError: 5007: No such model @cf/x");
        assert_eq!(
            err,
            GatewayError::Upstream {
                code: Some(5007),
                message: "No such model @cf/x".into()
            }
        );
        assert_eq!(err.status(), 404);
        assert_eq!(err.to_body().error.param, Some("model"));
    }

    #[test]
    fn upstream_status_table() {
        for (code, status) in [
            (3036, 429),
            (3042, 404),
            (3006, 413),
            (3007, 504),
            (3008, 504),
            (5016, 403),
            (9999, 502),
        ] {
            assert_eq!(upstream_status(Some(code)), status, "code {code}");
        }
        assert_eq!(upstream_error_from_message("socket hang up").status(), 502);
        let timeout = upstream_error_from_message("gateway-timeout: no answer within 500 ms");
        assert_eq!(timeout.status(), 504);
        assert_eq!(timeout.code().as_deref(), Some("upstream_timeout"));
        assert_eq!(timeout.to_string(), "no answer within 500 ms");
    }

    #[test]
    fn every_error_has_the_openai_shape() {
        let errs = [
            GatewayError::invalid("bad", Some("messages")),
            GatewayError::Unauthorized("no key".into()),
            GatewayError::RouteNotFound {
                method: "GET".into(),
                path: "/x".into(),
            },
            GatewayError::ModelNotFound { model: "m".into() },
            GatewayError::PayloadTooLarge { size: 2, limit: 1 },
            GatewayError::Misconfigured("no keys".into()),
            GatewayError::Internal("x".into()),
            GatewayError::Timeout("slow".into()),
            GatewayError::UpstreamRefusedKey("refused".into()),
            GatewayError::Unreachable("connection refused".into()),
            GatewayError::UpstreamStatus {
                status: 503,
                message: "Service Unavailable".into(),
            },
            GatewayError::Conflict {
                message: "busy".into(),
                code: "idempotency_key_in_use",
            },
            GatewayError::Unprocessable {
                message: "other body".into(),
                code: "idempotency_key_reused",
            },
        ];
        for err in errs {
            let body: serde_json::Value = serde_json::from_str(&err.to_json()).unwrap();
            let detail = body["error"].as_object().unwrap();
            for key in ["message", "type", "param", "code"] {
                assert!(detail.contains_key(key), "{err:?} lacks {key}");
            }
            assert!(!detail["message"].as_str().unwrap().is_empty());
        }
    }
}
