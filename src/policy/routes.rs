//! Method + path → route. Unknown paths are 404 and known paths with the wrong method 405, both
//! as OpenAI errors.

use std::ops::Range;

use crate::error::GatewayError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    ListModels,
    /// The model search page (HTML, or JSON on request). Open, like `/health`.
    ModelSearch,
    RetrieveModel(String),
    ChatCompletions,
    Completions,
    CreateResponse,
    RetrieveResponse(String),
    DeleteResponse(String),
    ResponseInputItems(String),
    Embeddings,
    ImageGenerations,
    Transcriptions,
    Translations,
    Speech,
    Moderations,
    /// An OpenAI API family this gateway does not serve: 501 naming it.
    NotServed(&'static str),
}

/// OpenAI endpoints with no Workers AI equivalent (answered 501 rather than a bare 404).
const NOT_SERVED: &[&str] = &[
    "assistants",
    "threads",
    "files",
    "uploads",
    "fine_tuning",
    "batches",
    "vector_stores",
    "evals",
    "containers",
    "realtime",
    "conversations",
    "organization",
];

impl Route {
    /// A stable name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::ListModels => "models.list",
            Route::ModelSearch => "models.search",
            Route::RetrieveModel(_) => "models.retrieve",
            Route::ChatCompletions => "chat.completions",
            Route::Completions => "completions",
            Route::CreateResponse => "responses.create",
            Route::RetrieveResponse(_) => "responses.retrieve",
            Route::DeleteResponse(_) => "responses.delete",
            Route::ResponseInputItems(_) => "responses.input_items",
            Route::Embeddings => "embeddings",
            Route::ImageGenerations => "images.generations",
            Route::Transcriptions => "audio.transcriptions",
            Route::Translations => "audio.translations",
            Route::Speech => "audio.speech",
            Route::Moderations => "moderations",
            Route::NotServed(_) => "not_served",
        }
    }

    /// For routes whose JSON body names a `model`: the OpenAI path that serves them upstream.
    /// The pipeline (cache, idempotency, routing, fallbacks) handles exactly these.
    pub fn json_model_path(&self) -> Option<&'static str> {
        match self {
            Route::ChatCompletions => Some("/chat/completions"),
            Route::Completions => Some("/completions"),
            Route::CreateResponse => Some("/responses"),
            Route::Embeddings => Some("/embeddings"),
            Route::ImageGenerations => Some("/images/generations"),
            Route::Moderations => Some("/moderations"),
            Route::Speech => Some("/audio/speech"),
            _ => None,
        }
    }

    /// Only `/health` and the model search page are open; everything else needs a key.
    pub fn needs_auth(&self) -> bool {
        !matches!(self, Route::Health | Route::ModelSearch)
    }
}

/// Resolves a request. `/v1` is optional, so a base URL set without it still works.
pub fn route(method: &str, path: &str) -> Result<Route, GatewayError> {
    let trimmed = path.trim_end_matches('/');
    let api_path = trimmed.strip_prefix("/v1").unwrap_or(trimmed);
    let (allowed, route) = match api_path {
        "/health" | "" if trimmed != "/v1" => ("GET", Route::Health),
        "/models" => ("GET", Route::ListModels),
        "/models/search" => ("GET", Route::ModelSearch),
        "/chat/completions" => ("POST", Route::ChatCompletions),
        "/completions" => ("POST", Route::Completions),
        "/responses" => ("POST", Route::CreateResponse),
        "/embeddings" => ("POST", Route::Embeddings),
        "/images/generations" => ("POST", Route::ImageGenerations),
        "/audio/transcriptions" => ("POST", Route::Transcriptions),
        "/audio/translations" => ("POST", Route::Translations),
        "/audio/speech" => ("POST", Route::Speech),
        "/moderations" => ("POST", Route::Moderations),
        // Workers AI's image models take no input image through this gateway's mapping yet.
        "/images/edits" => return Ok(Route::NotServed("images/edits")),
        "/images/variations" => return Ok(Route::NotServed("images/variations")),
        _ => match (
            api_path.strip_prefix("/models/"),
            api_path.strip_prefix("/responses/"),
        ) {
            (Some(id), _) if !id.is_empty() => ("GET", Route::RetrieveModel(percent_decode(id))),
            (_, Some(rest)) if !rest.is_empty() => match rest.split_once('/') {
                Some((id, "input_items")) => ("GET", Route::ResponseInputItems(id.to_owned())),
                None if method == "DELETE" => {
                    ("GET, DELETE", Route::DeleteResponse(rest.to_owned()))
                }
                None => ("GET, DELETE", Route::RetrieveResponse(rest.to_owned())),
                Some(_) => return Err(not_found(method, path)),
            },
            _ => {
                let family = api_path.trim_start_matches('/').split('/').next();
                match NOT_SERVED.iter().find(|served| Some(**served) == family) {
                    Some(name) => return Ok(Route::NotServed(name)),
                    None => return Err(not_found(method, path)),
                }
            }
        },
    };
    let mut methods = allowed.split(", ");
    let method_ok =
        methods.any(|m| m == method) || (allowed.starts_with("GET") && method == "HEAD");
    if method_ok {
        Ok(route)
    } else {
        Err(GatewayError::MethodNotAllowed {
            method: method.to_owned(),
            path: path.to_owned(),
            allowed,
        })
    }
}

fn not_found(method: &str, path: &str) -> GatewayError {
    GatewayError::RouteNotFound {
        method: method.to_owned(),
        path: path.to_owned(),
    }
}

/// Decodes `%XX` escapes (model ids such as `@cf%2Fmeta%2Fllama-3-8b-instruct`). Invalid escapes
/// and invalid UTF-8 are kept as they are rather than rejected.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| input.to_owned())
}

/// The decoded value of `name` in a URL's query string (`+` read as a space), if present.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(&key.replace('+', " ")) == name)
            .then(|| percent_decode(&value.replace('+', " ")))
    })
}

/// Where the path of a serialised WHATWG URL (what `Request.url` gives) is: from the end of the
/// host to the first `?` or `#`, which cannot occur unencoded inside a path. `None` when it is `/`
/// because the URL has none.
fn path_range(url: &str) -> Option<Range<usize>> {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let start = after_scheme + url.get(after_scheme..)?.find(['/', '?', '#'])?;
    if url.as_bytes().get(start) != Some(&b'/') {
        return None;
    }
    let end = url
        .get(start..)?
        .find(['?', '#'])
        .map_or(url.len(), |length| start + length);
    Some(start..end)
}

/// Declares `RequestHeader` from one list, so that `IN_HEAD` (what glue.js `requestHead` asks for),
/// `ALL` and `name` cannot disagree.
macro_rules! request_headers {
    (
        in_head { $($head:ident => $head_name:literal,)* }
        on_demand { $($other:ident => $other_name:literal,)* }
    ) => {
        /// The request headers the gateway reads. Those most requests need cross the JS boundary
        /// with the method and URL in one call (glue.js `requestHead`), a `get` per name: that
        /// costs less than iterating every header of the request (~55 K instructions fewer per
        /// request in workerd). The others are read with a call of their own when asked for, as a
        /// `get` costs ~3 K instructions even for an absent header. A typed name cannot be one
        /// that is never read.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum RequestHeader {
            $($head,)*
            $($other,)*
        }

        impl RequestHeader {
            /// Carried by every request's head.
            pub const IN_HEAD: &'static [RequestHeader] = &[$(RequestHeader::$head,)*];
            pub const ALL: &'static [RequestHeader] =
                &[$(RequestHeader::$head,)* $(RequestHeader::$other,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(RequestHeader::$head => $head_name,)*
                    $(RequestHeader::$other => $other_name,)*
                }
            }

            pub fn in_head(self) -> bool {
                matches!(self, $(RequestHeader::$head)|*)
            }
        }
    };
}

request_headers! {
    // Read for every request (CORS, request id, authentication, body size, idempotency).
    in_head {
        Authorization => "authorization",
        ContentLength => "content-length",
        IdempotencyKey => "idempotency-key",
        Origin => "origin",
        XRequestId => "x-request-id",
    }
    // Read by some requests only: preflights, `/v1/models`, routes without a key, the cache, and
    // a key sent without `Authorization`.
    on_demand {
        Accept => "accept",
        AccessControlRequestHeaders => "access-control-request-headers",
        CacheControl => "cache-control",
        CfConnectingIp => "cf-connecting-ip",
        XApiKey => "x-api-key",
        XGatewayCache => "x-gateway-cache",
    }
}

/// A request's method, URL and headers as glue.js `requestHead` writes them: a line each for the
/// method and the URL, then a name line and a value line per header present of those it is asked
/// for (`RequestHeader`). The lines are found once, here: a request looks up several headers, and
/// splitting the text again for each lookup cost more than the rest of routing and authentication.
#[derive(Debug)]
pub struct RequestHead {
    text: String,
    method: Range<usize>,
    url: Range<usize>,
    /// The URL's path, without its query; `None` for `/`.
    path: Option<Range<usize>>,
    /// Each header's name and value, as spans of `text`.
    headers: Vec<(Range<usize>, Range<usize>)>,
}

impl RequestHead {
    pub fn parse(text: String) -> Self {
        let mut lines = Vec::with_capacity(32);
        let mut start = 0;
        for (at, byte) in text.bytes().enumerate() {
            if byte == b'\n' {
                lines.push(start..at);
                start = at + 1;
            }
        }
        lines.push(start..text.len());
        let mut lines = lines.into_iter();
        let method = lines.next().unwrap_or_default();
        let url = lines.next().unwrap_or_default();
        let path = text
            .get(url.clone())
            .and_then(path_range)
            .map(|path| url.start + path.start..url.start + path.end);
        let mut headers = Vec::with_capacity(lines.len() / 2);
        while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
            headers.push((name, value));
        }
        RequestHead {
            text,
            method,
            url,
            path,
            headers,
        }
    }

    fn span(&self, span: &Range<usize>) -> &str {
        self.text.get(span.clone()).unwrap_or("")
    }

    pub fn method(&self) -> &str {
        self.span(&self.method)
    }

    pub fn url(&self) -> &str {
        self.span(&self.url)
    }

    /// The URL's path, without its query (`path_range`).
    pub fn path(&self) -> &str {
        self.path.as_ref().map_or("/", |path| self.span(path))
    }

    /// A header's value (names compare without regard to case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| self.span(key).eq_ignore_ascii_case(name))
            .map(|(_, value)| self.span(value))
    }
}

/// Whether JS `Headers` takes `value` for a response header: Latin-1 text without a line break
/// or NUL. The gateway leaves out a value it would refuse (a model name in `x-gateway-model`
/// comes from the client), as a failed `Headers.set` did, rather than fail the whole response.
pub fn sendable_header_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c <= '\u{ff}' && !matches!(c, '\r' | '\n' | '\0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_names_are_distinct_and_lower_case() {
        let names: Vec<&str> = RequestHeader::ALL.iter().map(|h| h.name()).collect();
        for (at, name) in names.iter().enumerate() {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert!(!names[..at].contains(name), "{name} twice");
        }
        for header in RequestHeader::ALL {
            assert_eq!(
                header.in_head(),
                RequestHeader::IN_HEAD.contains(header),
                "{header:?}"
            );
        }
    }

    #[test]
    fn response_header_values_that_js_headers_take() {
        for value in ["application/json", "", "café", "a b\tc", "sk-1; x=\"y\""] {
            assert!(sendable_header_value(value), "{value:?}");
        }
        for value in ["gpt-4\nx-evil: 1", "a\rb", "nul\0", "模型", "emoji 🙂"] {
            assert!(!sendable_header_value(value), "{value:?}");
        }
    }

    #[test]
    fn request_heads_as_glue_writes_them() {
        let head = RequestHead::parse(
            "POST\nhttps://gw.example/v1/chat/completions?x=1\nauthorization\nBearer sk-1\ncontent-type\napplication/json\nx-empty\n\n".into(),
        );
        assert_eq!(head.method(), "POST");
        assert_eq!(head.url(), "https://gw.example/v1/chat/completions?x=1");
        assert_eq!(head.path(), "/v1/chat/completions");
        assert_eq!(head.header("authorization"), Some("Bearer sk-1"));
        assert_eq!(head.header("Content-Type"), Some("application/json"));
        assert_eq!(head.header("x-empty"), Some(""));
        assert_eq!(head.header("origin"), None);
        // A value is never taken for a name.
        assert_eq!(head.header("Bearer sk-1"), None);
        let bare = RequestHead::parse("GET\nhttps://gw.example/health\n".into());
        assert_eq!(bare.header("authorization"), None);
        assert_eq!(RequestHead::parse(String::new()).method(), "");
        assert_eq!(RequestHead::parse(String::new()).path(), "/");
        // The first of repeated names; values beyond ASCII and a last line without its newline.
        let odd =
            RequestHead::parse("GET\n/\nx-a\nfirst\nx-a\nsecond\nx-b\ncafé\nx-c\nlast".into());
        assert_eq!(odd.header("x-a"), Some("first"));
        assert_eq!(odd.header("x-b"), Some("café"));
        assert_eq!(odd.header("x-c"), Some("last"));
        assert_eq!(
            RequestHead::parse("GET\n/\nx-name-only".into()).header("x-name-only"),
            None
        );
    }

    #[test]
    fn paths_of_urls() {
        let path_of_url = |url: &str| {
            RequestHead::parse(format!("GET\n{url}\n"))
                .path()
                .to_owned()
        };
        assert_eq!(
            path_of_url("https://gw.example/v1/chat/completions"),
            "/v1/chat/completions"
        );
        assert_eq!(
            path_of_url("http://127.0.0.1:8787/v1/models?x=1#f"),
            "/v1/models"
        );
        assert_eq!(path_of_url("https://gw.example"), "/");
        assert_eq!(path_of_url("https://gw.example?q=/a"), "/");
        assert_eq!(path_of_url("https://gw.example/a%3Fb?c"), "/a%3Fb");
        assert_eq!(path_of_url("/relative?x"), "/relative");
    }

    #[test]
    fn routes_with_and_without_v1() {
        assert_eq!(
            route("POST", "/v1/chat/completions"),
            Ok(Route::ChatCompletions)
        );
        assert_eq!(
            route("POST", "/chat/completions/"),
            Ok(Route::ChatCompletions)
        );
        assert_eq!(route("GET", "/health"), Ok(Route::Health));
        assert_eq!(route("GET", "/"), Ok(Route::Health));
        assert_eq!(route("GET", "/v1/models"), Ok(Route::ListModels));
        assert_eq!(route("HEAD", "/v1/models"), Ok(Route::ListModels));
    }

    #[test]
    fn model_ids_with_slashes_encoded_or_not() {
        let want = Route::RetrieveModel("@cf/meta/llama-3-8b-instruct".into());
        assert_eq!(
            route("GET", "/v1/models/@cf/meta/llama-3-8b-instruct"),
            Ok(want.clone())
        );
        assert_eq!(
            route("GET", "/v1/models/%40cf%2Fmeta%2Fllama-3-8b-instruct"),
            Ok(want)
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "%ff");
    }

    #[test]
    fn search_page_and_query_strings() {
        assert_eq!(route("GET", "/models/search"), Ok(Route::ModelSearch));
        assert_eq!(route("GET", "/v1/models/search"), Ok(Route::ModelSearch));
        assert!(!Route::ModelSearch.needs_auth());
        let url = "https://gw.example/models/search?q=llama+3%2E1&task=Text%20Generation&x#frag";
        assert_eq!(query_param(url, "q").as_deref(), Some("llama 3.1"));
        assert_eq!(query_param(url, "task").as_deref(), Some("Text Generation"));
        assert_eq!(query_param(url, "x").as_deref(), Some(""));
        assert_eq!(query_param(url, "frag"), None);
        assert_eq!(query_param("https://gw.example/", "q"), None);
    }

    #[test]
    fn unknown_and_wrong_method() {
        assert_eq!(route("GET", "/v1/nope").unwrap_err().status(), 404);
        assert_eq!(route("GET", "/v1").unwrap_err().status(), 404);
        assert_eq!(route("GET", "/v1/models/"), Ok(Route::ListModels));
        let err = route("GET", "/v1/chat/completions").unwrap_err();
        assert_eq!(err.status(), 405);
        assert!(err.to_string().contains("use POST"));
        assert_eq!(route("DELETE", "/v1/models").unwrap_err().status(), 405);
    }

    #[test]
    fn responses_routes() {
        assert_eq!(route("POST", "/v1/responses"), Ok(Route::CreateResponse));
        assert_eq!(
            route("GET", "/v1/responses/resp_1"),
            Ok(Route::RetrieveResponse("resp_1".into()))
        );
        assert_eq!(
            route("DELETE", "/v1/responses/resp_1"),
            Ok(Route::DeleteResponse("resp_1".into()))
        );
        assert_eq!(
            route("GET", "/v1/responses/resp_1/input_items"),
            Ok(Route::ResponseInputItems("resp_1".into()))
        );
        let err = route("POST", "/v1/responses/resp_1").unwrap_err();
        assert_eq!(err.allowed_methods(), Some("GET, DELETE"));
        assert_eq!(
            route("POST", "/v1/responses/resp_1/cancel")
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(route("POST", "/v1/embeddings"), Ok(Route::Embeddings));
        assert_eq!(
            route("GET", "/v1/files/file-1"),
            Ok(Route::NotServed("files"))
        );
        assert_eq!(
            route("POST", "/v1/threads"),
            Ok(Route::NotServed("threads"))
        );
    }
}
