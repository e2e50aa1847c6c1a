//! What we know about each Workers AI model, taken from Cloudflare's published model schemas
//! (shared/reference/workers-ai-models): task, context window, capabilities, and how its
//! text-generation output is shaped (its [`Family`]).

/// How a model's input and output are shaped on the `env.AI` binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `{response, tool_calls?, usage}`; SSE frames `{"response": "...", "p": "..."}`.
    LegacyText,
    /// An OpenAI `chat.completion` / `chat.completion.chunk`.
    OpenAiNativeText,
    /// A Responses-API-like `{object: "response", output: [...]}` (gpt-oss).
    ResponsesText,
    Embedding,
    TextToImage,
    SpeechToText,
    TextToSpeech,
    Safety,
    ImageToText,
}

impl Family {
    pub fn is_text_generation(self) -> bool {
        matches!(
            self,
            Family::LegacyText | Family::OpenAiNativeText | Family::ResponsesText
        )
    }

    pub fn task_name(self) -> &'static str {
        match self {
            Family::LegacyText | Family::OpenAiNativeText | Family::ResponsesText => {
                "Text Generation"
            }
            Family::Embedding => "Text Embeddings",
            Family::TextToImage => "Text-to-Image",
            Family::SpeechToText => "Automatic Speech Recognition",
            Family::TextToSpeech => "Text-to-Speech",
            Family::Safety => "Text Classification",
            Family::ImageToText => "Image-to-Text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub tools: bool,
    pub reasoning: bool,
    pub vision: bool,
    /// Workers AI JSON mode (`response_format`), per the model's schema.
    pub json_mode: bool,
}

const PLAIN: Capabilities = Capabilities {
    tools: false,
    reasoning: false,
    vision: false,
    json_mode: false,
};
const TOOLS: Capabilities = Capabilities {
    tools: true,
    ..PLAIN
};
const TOOLS_REASONING: Capabilities = Capabilities {
    tools: true,
    reasoning: true,
    ..PLAIN
};
const JSON: Capabilities = Capabilities {
    json_mode: true,
    ..PLAIN
};
const REASONING: Capabilities = Capabilities {
    reasoning: true,
    ..PLAIN
};
const VISION: Capabilities = Capabilities {
    vision: true,
    ..PLAIN
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    pub id: &'static str,
    pub family: Family,
    /// Unix time the model was added to Workers AI (0 where the docs do not say).
    pub created: u64,
    /// Context window in tokens, where documented.
    pub context_window: Option<u32>,
    pub capabilities: Capabilities,
}

impl ModelSpec {
    /// Largest `max_tokens` we pass upstream: Workers AI documents no separate output cap, so a
    /// generous share of the context window, never above it.
    pub fn max_output_tokens(&self) -> u32 {
        self.context_window.unwrap_or(8192).min(16_384)
    }

    /// `max_tokens` when the client sends none. Workers AI's own default (256) cuts most answers.
    pub fn default_max_tokens(&self) -> u32 {
        self.max_output_tokens().min(4096)
    }

    /// The range Workers AI accepts for `frequency_penalty`/`presence_penalty`: most older models
    /// document 0..2 and reject OpenAI's negative values.
    pub fn penalty_range(&self) -> (f64, f64) {
        const SIGNED: &[&str] = &[
            "@cf/qwen/qwen3-30b-a3b-fp8",
            "@cf/zai-org/glm-4.7-flash",
            "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            "@cf/openai/gpt-oss-120b",
            "@cf/openai/gpt-oss-20b",
        ];
        if SIGNED.contains(&self.id) {
            (-2.0, 2.0)
        } else {
            (0.0, 2.0)
        }
    }

    /// GLM takes a full OpenAI chat request (`tool_choice`, `stop`, `reasoning_effort`,
    /// OpenAI-form `response_format`); the others document only the Workers AI parameters.
    pub fn accepts_openai_parameters(&self) -> bool {
        self.id == "@cf/zai-org/glm-4.7-flash"
    }

    /// Models served by OpenAI-compatible engines that read `reasoning_effort`.
    pub fn accepts_reasoning_effort(&self) -> bool {
        self.accepts_openai_parameters() || self.family == ResponsesText
    }

    /// Mistral's chat template (and Llama 4's schema) want `tool_call_id`s of 9 letters/digits.
    pub fn needs_short_tool_call_ids(&self) -> bool {
        matches!(
            self.id,
            "@cf/mistralai/mistral-small-3.1-24b-instruct"
                | "@cf/meta/llama-4-scout-17b-16e-instruct"
        )
    }

    /// Vision models whose messages take OpenAI `image_url` parts (with `data:` URLs).
    pub fn accepts_image_parts(&self) -> bool {
        self.capabilities.vision && self.id != "@cf/meta/llama-3.2-11b-vision-instruct"
    }

    /// Most texts one embeddings run takes (`maxItems` of the model's `text` input).
    pub fn embedding_batch_limit(&self) -> usize {
        match self.id {
            "@cf/qwen/qwen3-embedding-0.6b" => 32,
            _ => 100,
        }
    }

    /// The size of the model's vectors, where the catalogue knows it.
    pub fn embedding_dimensions(&self) -> Option<u64> {
        match self.id {
            "@cf/baai/bge-small-en-v1.5" => Some(384),
            "@cf/baai/bge-base-en-v1.5" | "@cf/google/embeddinggemma-300m" => Some(768),
            "@cf/baai/bge-large-en-v1.5" | "@cf/baai/bge-m3" | "@cf/qwen/qwen3-embedding-0.6b" => {
                Some(1024)
            }
            _ => None,
        }
    }

    pub fn owned_by(&self) -> &'static str {
        // "@cf/meta/llama-3-8b-instruct" → "meta"
        self.id.split('/').nth(1).unwrap_or("cloudflare")
    }
}

const fn text(
    id: &'static str,
    family: Family,
    created: u64,
    context_window: Option<u32>,
    capabilities: Capabilities,
) -> ModelSpec {
    ModelSpec {
        id,
        family,
        created,
        context_window,
        capabilities,
    }
}

const fn other(id: &'static str, family: Family, created: u64) -> ModelSpec {
    text(id, family, created, None, PLAIN)
}

use Family::*;

/// Every model the gateway knows by name. Direct `@cf/…`/`@hf/…` ids outside this table are still
/// forwarded (Workers AI adds models often) and fail upstream with `model_not_found` if unknown.
/// Capabilities follow each model's published schema (`function_calling`, `reasoning`,
/// `response_format`, image inputs); context windows its `context_window` property.
#[rustfmt::skip]
pub static CATALOGUE: &[ModelSpec] = &[
    // Text generation, legacy output shape.
    text("@cf/meta/llama-3-8b-instruct", LegacyText, 0, Some(8192), PLAIN),
    text("@cf/meta/llama-3.1-8b-instruct", LegacyText, 0, Some(8192), PLAIN),
    text("@cf/meta/llama-3.1-8b-instruct-fast", LegacyText, 0, Some(8192), PLAIN),
    text("@cf/meta/llama-3.2-11b-vision-instruct", LegacyText, 1727242564, Some(128_000), VISION),
    text("@cf/meta/llama-3.3-70b-instruct-fp8-fast", LegacyText, 1733504958, Some(24_000), Capabilities { tools: true, json_mode: true, ..PLAIN }),
    text("@cf/meta/llama-4-scout-17b-16e-instruct", LegacyText, 1743884756, Some(131_000), Capabilities { tools: true, vision: true, json_mode: true, ..PLAIN }),
    text("@cf/mistralai/mistral-small-3.1-24b-instruct", LegacyText, 1742268517, Some(128_000), Capabilities { tools: true, vision: true, ..PLAIN }),
    text("@hf/nousresearch/hermes-2-pro-mistral-7b", LegacyText, 0, Some(24_000), TOOLS),
    text("@cf/google/gemma-3-12b-it", LegacyText, 1742270282, Some(80_000), VISION),
    text("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", LegacyText, 1737575335, Some(80_000), Capabilities { reasoning: true, json_mode: true, ..PLAIN }),
    text("@cf/qwen/qwen2.5-coder-32b-instruct", LegacyText, 1740616303, Some(32_768), JSON),
    text("@cf/qwen/qwq-32b", LegacyText, 1741211560, Some(24_000), REASONING),
    // Text generation, OpenAI chat.completion output.
    text("@cf/qwen/qwen3-30b-a3b-fp8", OpenAiNativeText, 1746048970, Some(32_768), Capabilities { json_mode: true, ..TOOLS_REASONING }),
    text("@cf/zai-org/glm-4.7-flash", OpenAiNativeText, 1769616279, Some(131_072), Capabilities { json_mode: true, ..TOOLS_REASONING }),
    // Text generation, Responses-style output.
    text("@cf/openai/gpt-oss-120b", ResponsesText, 1754389649, Some(128_000), TOOLS_REASONING),
    text("@cf/openai/gpt-oss-20b", ResponsesText, 1754390993, Some(128_000), TOOLS_REASONING),
    // Everything else.
    other("@cf/baai/bge-small-en-v1.5", Embedding, 1699371838),
    other("@cf/baai/bge-base-en-v1.5", Embedding, 1695669671),
    other("@cf/baai/bge-large-en-v1.5", Embedding, 1699371838),
    other("@cf/baai/bge-m3", Embedding, 1716406029),
    other("@cf/google/embeddinggemma-300m", Embedding, 1756932518),
    other("@cf/qwen/qwen3-embedding-0.6b", Embedding, 1750278202),
    other("@cf/black-forest-labs/flux-1-schnell", TextToImage, 1724949459),
    other("@cf/black-forest-labs/flux-2-dev", TextToImage, 1763999046),
    other("@cf/black-forest-labs/flux-2-klein-4b", TextToImage, 1768395295),
    other("@cf/black-forest-labs/flux-2-klein-9b", TextToImage, 1768395354),
    other("@cf/stabilityai/stable-diffusion-xl-base-1.0", TextToImage, 1699613683),
    other("@cf/bytedance/stable-diffusion-xl-lightning", TextToImage, 1709055689),
    other("@cf/lykon/dreamshaper-8-lcm", TextToImage, 1709055638),
    other("@cf/openai/whisper", SpeechToText, 1695669671),
    other("@cf/openai/whisper-large-v3-turbo", SpeechToText, 1716336138),
    other("@cf/myshell-ai/melotts", TextToSpeech, 0),
    other("@cf/meta/llama-guard-3-8b", Safety, 1737588383),
    other("@cf/llava-hf/llava-1.5-7b-hf", ImageToText, 0),
    other("@cf/unum/uform-gen2-qwen-500m", ImageToText, 0),
];

pub fn find(id: &str) -> Option<&'static ModelSpec> {
    CATALOGUE.iter().find(|spec| spec.id == id)
}

/// A best guess for a Workers AI id we have no entry for, so new text models work on day one.
pub fn guess_unlisted(id: &str) -> ModelSpec {
    let lower = id.to_ascii_lowercase();
    let family = if lower.contains("gpt-oss") {
        ResponsesText
    } else if lower.contains("qwen3") || lower.contains("glm-") || lower.contains("kimi") {
        OpenAiNativeText
    } else {
        LegacyText
    };
    ModelSpec {
        // Unlisted ids cannot be 'static; callers keep the requested id next to the spec.
        id: "",
        family,
        created: 0,
        context_window: None,
        capabilities: PLAIN,
    }
}
