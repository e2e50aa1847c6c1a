use crate::platform::http::Response;

use crate::platform::http;

pub fn health() -> Response {
    http::json(
        200,
        format!(
            r#"{{"status":"ok","service":"openai-to-workers-ai","version":"{}"}}"#,
            env!("CARGO_PKG_VERSION")
        ),
    )
}
