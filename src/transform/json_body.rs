//! Request bodies → typed requests, with errors that name the field and say what it should be,
//! in words rather than Rust type names.

use serde::de::DeserializeOwned;

use crate::error::GatewayError;

/// Top-level request fields, so a type error can carry OpenAI's `param`.
const PARAMS: &[&str] = &[
    "model",
    "messages",
    "input",
    "input_items",
    "prompt",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "stop",
    "response_format",
    "reasoning_effort",
    "n",
    "echo",
    "suffix",
];

/// Parses `body` as `T`. `example` is a minimal valid body, shown when the JSON itself is broken.
pub fn parse_body<T: DeserializeOwned>(body: &str, example: &str) -> Result<T, GatewayError> {
    if body.trim().is_empty() {
        return Err(GatewayError::invalid(
            format!("The request body is empty. Send JSON such as {example} with Content-Type: application/json."),
            None,
        ));
    }
    if !body.trim_start().starts_with('{') {
        return Err(GatewayError::invalid(
            format!("The request body must be a JSON object such as {example}."),
            None,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() {
            return GatewayError::invalid(
                format!(
                    "The request body is not valid JSON ({inner}). Send JSON such as {example}."
                ),
                None,
            );
        }
        let path = err.path().to_string();
        let field = path.split(['.', '[']).next().unwrap_or("");
        let param = PARAMS.iter().copied().find(|p| *p == field);
        let what = humanize(&inner.to_string());
        let message = if path == "." || path.is_empty() {
            format!("Invalid request body: {what}.")
        } else {
            format!("Invalid `{path}`: {what}.")
        };
        GatewayError::invalid(message, param)
    })?;
    // Anything after the object (`{…} garbage`, `{…}{}`) means the body is not what was meant.
    deserializer.end().map_err(|err| {
        GatewayError::invalid(
            format!("The request body is not valid JSON ({err}): something follows the JSON object. Send one object such as {example}."),
            None,
        )
    })?;
    Ok(parsed)
}

/// serde's wording → plain words: no `f64`, no struct or enum names, no line/column.
fn humanize(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    let mut out = message
        .replace("expected f64", "expected a number")
        .replace("expected u64", "expected a whole number (0 or more)")
        .replace("expected u32", "expected a whole number (0 or more)")
        .replace("expected i64", "expected a whole number")
        .replace("expected a sequence", "expected a list")
        .replace("expected a borrowed string", "expected a string")
        .replace(
            "data did not match any variant of untagged enum MessageContent",
            "expected a string or a list of content parts",
        );
    if let Some(start) = out.find("expected struct ") {
        out.replace_range(start.., "expected an object");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_characters_are_refused() {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[allow(dead_code)]
            model: String,
        }
        assert!(parse_body::<Body>(r#"{"model":"m"}  "#, "{}").is_ok());
        for body in [r#"{"model":"m"} garbage"#, r#"{"model":"m"}{}"#] {
            let err = parse_body::<Body>(body, "{}").unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains("follows the JSON object"), "{err}");
        }
    }
    use crate::transform::openai::ChatCompletionRequest;

    fn error(body: &str) -> (String, Option<&'static str>) {
        let err = parse_body::<ChatCompletionRequest>(body, "{}").unwrap_err();
        assert_eq!(err.status(), 400);
        (err.to_string(), err.to_body().error.param)
    }

    #[test]
    fn type_errors_name_the_field_in_plain_words() {
        let cases = [
            (r#"{"model":5,"messages":[]}"#, "model", "expected a string"),
            (
                r#"{"model":"m","temperature":"hot","messages":[]}"#,
                "temperature",
                "expected a number",
            ),
            (
                r#"{"model":"m","stream":"yes","messages":[]}"#,
                "stream",
                "expected a boolean",
            ),
            (
                r#"{"model":"m","max_tokens":-5,"messages":[]}"#,
                "max_tokens",
                "whole number",
            ),
            (
                r#"{"model":"m","messages":"hi"}"#,
                "messages",
                "expected a list",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user","content":5}]}"#,
                "messages",
                "string or a list of content parts",
            ),
            (
                r#"{"model":"m","messages":[3]}"#,
                "messages",
                "expected an object",
            ),
        ];
        for (body, param, words) in cases {
            let (message, got) = error(body);
            assert_eq!(got, Some(param), "{body}: {message}");
            assert!(message.contains(words), "{body}: {message}");
            for rust in ["f64", "u64", "struct", "enum", "line 1"] {
                assert!(!message.contains(rust), "{body}: {message}");
            }
        }
    }

    #[test]
    fn broken_json_and_empty_bodies() {
        assert!(error("{").0.contains("not valid JSON"));
        assert!(error("  ").0.contains("body is empty"));
        let (message, _) = error("[1]");
        assert!(message.contains("must be a JSON object"), "{message}");
    }
}
