use crate::platform::http::{self, Response};

pub fn health() -> Response {
    http::json(
        200,
        format!(
            r#"{{"status":"ok","service":"openai-to-workers-ai","version":"{}"}}"#,
            env!("CARGO_PKG_VERSION")
        ),
    )
}
