//! Request bodies → typed requests, with errors that name the field and say what it should be,
//! in words rather than Rust type names.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde_json::Value;

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
    "logprobs",
    "top_logprobs",
    "max_output_tokens",
    "instructions",
    "voice",
    "speed",
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
    // Most bodies are valid: parse them without tracking the path, which made parsing a chat
    // body about two thirds dearer. A failure is parsed again, with the path, for its message.
    if let Ok(parsed) = serde_json::from_str(body) {
        return Ok(parsed);
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

/// serde's wording → plain words: no `f64`, no struct or enum names, no line/column, and a
/// type error as "expected a string, got a list".
pub(crate) fn humanize(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    let mut out = message
        .replace("expected f64", "expected a number")
        .replace("expected u64", "expected a whole number (0 or more)")
        .replace("expected u32", "expected a whole number (0 or more)")
        .replace("expected i64", "expected a whole number")
        .replace("expected a sequence", "expected a list")
        .replace("expected a borrowed string", "expected a string");
    if let Some(start) = out.find("expected struct ") {
        out.replace_range(start.., "expected an object");
    }
    // `invalid type: sequence, expected a string` → `expected a string, got a list`.
    let mismatch = out
        .strip_prefix("invalid type: ")
        .or_else(|| out.strip_prefix("invalid value: "))
        .and_then(|rest| rest.split_once(", expected "));
    match mismatch {
        Some((got, expected)) => format!("expected {expected}, got {}", json_words(got)),
        None => out,
    }
}

/// serde's name for a value (`sequence`, `map`, ``integer `7` ``, `string "x"`) in JSON's words.
fn json_words(got: &str) -> Cow<'_, str> {
    match got {
        "sequence" => Cow::Borrowed("a list"),
        "map" => Cow::Borrowed("an object"),
        _ => match (got.strip_prefix("string "), got.split_once(" `")) {
            // A string, quoted, unless it is too long to be worth echoing.
            (Some(text), _) if text.chars().count() <= 40 => Cow::Borrowed(text),
            (Some(_), _) => Cow::Borrowed("a string"),
            // ``integer `7` ``, ``floating point `1.5` ``, ``boolean `true` ``: the value itself.
            (None, Some((_, value))) => Cow::Borrowed(value.strip_suffix('`').unwrap_or(value)),
            (None, None) => Cow::Borrowed(got),
        },
    }
}

/// A JSON value in a few words for an error message: short values as they are, others by kind.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        Value::String(text) if text.chars().count() > 40 => "a long string".to_owned(),
        other => other.to_string(),
    }
}

/// A request body's bytes as text. JSON is UTF-8: anything else is refused rather than having
/// its bad bytes replaced. Validated in place (no copy); a leading byte-order mark is dropped, as
/// `Request.text()` did.
pub fn body_text(mut bytes: Vec<u8>) -> Result<String, GatewayError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|err| {
        let at = err.utf8_error().valid_up_to();
        let byte = err.as_bytes().get(at).copied().unwrap_or_default();
        GatewayError::invalid(
            format!("The request body is not valid UTF-8 (byte 0x{byte:02x} at offset {at}). Send the JSON encoded as UTF-8."),
            None,
        )
    })
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

    fn error(body: &str) -> (String, Option<String>) {
        let err = parse_body::<ChatCompletionRequest>(body, "{}").unwrap_err();
        assert_eq!(err.status(), 400);
        (
            err.to_string(),
            err.to_body().error.param.map(str::to_owned),
        )
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
                "expected an object, got 3",
            ),
            (
                r#"{"model":[],"messages":[]}"#,
                "model",
                "expected a string, got a list",
            ),
            (
                r#"{"model":{"a":1},"messages":[]}"#,
                "model",
                "expected a string, got an object",
            ),
            (
                r#"{"model":"m","messages":{}}"#,
                "messages",
                "expected a list, got an object",
            ),
            (
                r#"{"model":"m","messages":[null]}"#,
                "messages",
                "expected an object, got null",
            ),
            (
                r#"{"model":"m","messages":[{"role":[],"content":"x"}]}"#,
                "messages",
                "`messages[0].role`: expected a string, got a list",
            ),
            (
                r#"{"model":"m","max_tokens":[],"messages":[]}"#,
                "max_tokens",
                "expected a whole number (0 or more), got a list",
            ),
            (
                r#"{"model":"m","max_tokens":1.5,"messages":[]}"#,
                "max_tokens",
                "expected a whole number (0 or more), got 1.5",
            ),
            (
                r#"{"model":"m","temperature":"hot","messages":[]}"#,
                "temperature",
                r#"expected a number, got "hot""#,
            ),
            (
                r#"{"model":"m","top_logprobs":-1,"messages":[]}"#,
                "top_logprobs",
                "got -1",
            ),
        ];
        for (body, param, words) in cases {
            let (message, got) = error(body);
            assert_eq!(got.as_deref(), Some(param), "{body}: {message}");
            assert!(message.contains(words), "{body}: {message}");
            for rust in [
                "f64",
                "u64",
                "struct",
                "enum",
                "line 1",
                "sequence",
                "map",
                "invalid type",
            ] {
                assert!(!message.contains(rust), "{body}: {message}");
            }
        }
    }

    #[test]
    fn a_long_string_is_not_echoed() {
        let long = "x".repeat(1000);
        let (message, _) = error(&format!(
            r#"{{"model":"m","temperature":"{long}","messages":[]}}"#
        ));
        assert!(
            message.ends_with("expected a number, got a string."),
            "{message}"
        );
        // A string holding backticks is still echoed as the string it is.
        let (message, _) = error(r#"{"model":"m","temperature":"a `b`","messages":[]}"#);
        assert!(
            message.ends_with(r#"expected a number, got "a `b`"."#),
            "{message}"
        );
    }

    #[test]
    fn bodies_must_be_utf8() {
        assert_eq!(
            body_text(b"{\"a\":\"\xc3\xa9\"}".to_vec()).unwrap(),
            "{\"a\":\"é\"}"
        );
        // A byte-order mark is dropped, as `Request.text()` did.
        assert_eq!(body_text(b"\xEF\xBB\xBF{}".to_vec()).unwrap(), "{}");
        let err = body_text(b"{\"a\":\"h\xff\xfei\"}".to_vec()).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "The request body is not valid UTF-8 (byte 0xff at offset 7). Send the JSON encoded as UTF-8."
        );
        // A sequence cut short at the end.
        assert!(body_text(b"{\"a\":\"\xc3".to_vec()).is_err());
    }

    #[test]
    fn describe_is_short() {
        assert_eq!(describe(&serde_json::json!(5)), "5");
        assert_eq!(describe(&serde_json::json!("auto!")), "\"auto!\"");
        assert_eq!(
            describe(&serde_json::json!("x".repeat(41))),
            "a long string"
        );
        assert_eq!(describe(&serde_json::json!([1])), "a list");
        assert_eq!(describe(&serde_json::json!({})), "an object");
    }

    #[test]
    fn broken_json_and_empty_bodies() {
        assert!(error("{").0.contains("not valid JSON"));
        assert!(error("  ").0.contains("body is empty"));
        let (message, _) = error("[1]");
        assert!(message.contains("must be a JSON object"), "{message}");
    }
}
