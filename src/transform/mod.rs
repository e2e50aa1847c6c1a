//! The pure core: OpenAI requests → Workers AI inputs, Workers AI outputs → OpenAI responses.
//! Plain functions over serde types; nothing here touches the Workers runtime.

pub mod audio;
pub mod chat;
pub mod chat_request;
pub mod chat_stream;
pub mod completions;
pub mod embeddings;
pub mod images;
pub mod json_body;
pub mod media;
pub mod moderations;
pub mod openai;
pub mod responses;
pub mod responses_request;
pub mod responses_stream;
pub mod sse;
pub mod text_filters;
