//! OpenAI model names → Workers AI models. Pure: no runtime types.

pub mod catalogue;
pub mod listing;

pub use catalogue::{Capabilities, Family, ModelSpec, CATALOGUE};
pub use listing::{list_models, ListedModel};

use crate::error::GatewayError;
use crate::policy::upstream;
use std::collections::BTreeMap;

/// OpenAI names clients send out of habit, and the Workers AI model that answers them.
pub static ALIASES: &[(&str, &str)] = &[
    ("gpt-4", "@cf/qwen/qwen3-30b-a3b-fp8"),
    ("gpt-4-turbo", "@cf/qwen/qwen3-30b-a3b-fp8"),
    ("gpt-4o", "@cf/qwen/qwen3-30b-a3b-fp8"),
    ("gpt-4.1", "@cf/qwen/qwen3-30b-a3b-fp8"),
    ("gpt-4o-mini", "@cf/meta/llama-3-8b-instruct"),
    ("gpt-4.1-mini", "@cf/meta/llama-3-8b-instruct"),
    ("gpt-3.5-turbo", "@cf/meta/llama-3-8b-instruct"),
    ("gpt-5", "@cf/zai-org/glm-4.7-flash"),
    ("gpt-5-mini", "@cf/zai-org/glm-4.7-flash"),
    ("o1", "@cf/openai/gpt-oss-120b"),
    ("o3", "@cf/openai/gpt-oss-120b"),
    ("o3-mini", "@cf/openai/gpt-oss-20b"),
    ("o4-mini", "@cf/openai/gpt-oss-20b"),
    ("gpt-oss-120b", "@cf/openai/gpt-oss-120b"),
    ("gpt-oss-20b", "@cf/openai/gpt-oss-20b"),
    ("mistral", "@cf/mistralai/mistral-small-3.1-24b-instruct"),
    ("llama-3.3-70b", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
    ("text-embedding-ada-002", "@cf/baai/bge-base-en-v1.5"),
    ("text-embedding-3-small", "@cf/baai/bge-base-en-v1.5"),
    ("text-embedding-3-large", "@cf/baai/bge-large-en-v1.5"),
    ("dall-e-2", "@cf/black-forest-labs/flux-1-schnell"),
    ("dall-e-3", "@cf/black-forest-labs/flux-1-schnell"),
    ("gpt-image-1", "@cf/black-forest-labs/flux-1-schnell"),
    ("whisper-1", "@cf/openai/whisper-large-v3-turbo"),
    ("tts-1", "@cf/myshell-ai/melotts"),
    ("tts-1-hd", "@cf/myshell-ai/melotts"),
    ("omni-moderation-latest", "@cf/meta/llama-guard-3-8b"),
    ("text-moderation-latest", "@cf/meta/llama-guard-3-8b"),
];

/// A model name the client sent, resolved to the Workers AI model that will answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The name the client sent; echoed back in `model` fields.
    pub requested: String,
    /// The Workers AI id we call.
    pub upstream_id: String,
    pub spec: ModelSpec,
    /// False for a direct `@cf/…` id we have no entry for: its capabilities are unknown, so the
    /// gateway does not refuse features on its behalf and lets Workers AI decide.
    pub listed: bool,
}

/// Deployment-specific aliases (the `MODEL_ALIASES` JSON var); they win over the built-in table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasOverrides(BTreeMap<String, String>);

impl AliasOverrides {
    pub fn parse(json: &str) -> Result<Self, GatewayError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str::<BTreeMap<String, String>>(json)
            .map(Self)
            .map_err(|err| {
                GatewayError::Misconfigured(format!(
                    "MODEL_ALIASES must be a JSON object of alias → Workers AI model id, e.g. {{\"gpt-4\":\"@cf/qwen/qwen3-30b-a3b-fp8\"}}: {err}"
                ))
            })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn is_workers_ai_id(name: &str) -> bool {
    (name.starts_with("@cf/") || name.starts_with("@hf/")) && name.len() > 4
}

/// The alias target for `name`, from the deployment's overrides first, then the built-in table.
pub fn alias_target<'a>(name: &str, overrides: &'a AliasOverrides) -> Option<&'a str> {
    overrides
        .0
        .get(name)
        .map(String::as_str)
        .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, t)| *t))
}

/// Resolves what a client put in `model`. Unknown names are an error, never a silent substitute.
pub fn resolve(requested: &str, overrides: &AliasOverrides) -> Result<ResolvedModel, GatewayError> {
    let name = requested.trim();
    if name.is_empty() {
        return Err(GatewayError::invalid(
            "`model` is required: name an OpenAI alias such as `gpt-4` or a Workers AI id such as `@cf/meta/llama-3-8b-instruct` (GET /v1/models lists them).",
            Some("model"),
        ));
    }
    let upstream_id = match alias_target(name, overrides) {
        Some(target) => target,
        None if is_workers_ai_id(name) => name,
        // Reaches here only when no OpenAI-compatible upstream is configured.
        None if name.starts_with(upstream::OPENAI_PREFIX) => {
            return Err(upstream::no_openai_upstream(name))
        }
        None => {
            return Err(GatewayError::ModelNotFound {
                model: name.to_owned(),
            })
        }
    };
    let (spec, listed) = match catalogue::find(upstream_id) {
        Some(spec) => (*spec, true),
        None if is_workers_ai_id(upstream_id) => (catalogue::guess_unlisted(upstream_id), false),
        None => {
            return Err(GatewayError::Misconfigured(format!(
                "Alias `{name}` points at `{upstream_id}`, which is not a Workers AI model id (they start with @cf/ or @hf/). Fix MODEL_ALIASES."
            )))
        }
    };
    Ok(ResolvedModel {
        requested: name.to_owned(),
        upstream_id: upstream_id.to_owned(),
        spec,
        listed,
    })
}

/// The README's alias table (Markdown), one row per Workers AI model in `ALIASES` order.
pub fn alias_table_markdown() -> String {
    let mut rows: Vec<(&str, Vec<&str>)> = Vec::new();
    for (alias, id) in ALIASES {
        match rows.iter_mut().find(|(model, _)| model == id) {
            Some((_, aliases)) => aliases.push(alias),
            None => rows.push((id, vec![alias])),
        }
    }
    let mut table = String::from("| alias | Workers AI model |\n| --- | --- |\n");
    for (id, aliases) in rows {
        let names: Vec<String> = aliases.iter().map(|a| format!("`{a}`")).collect();
        table.push_str(&format!("| {} | `{id}` |\n", names.join(", ")));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_alias_table_matches_the_code() {
        let readme = include_str!("../../README.md");
        let table = readme
            .split_once("<!-- aliases:start -->\n")
            .and_then(|(_, rest)| rest.split_once("<!-- aliases:end -->"))
            .map(|(table, _)| table);
        let expected = alias_table_markdown();
        assert_eq!(
            table,
            Some(expected.as_str()),
            "README.md's alias table (between <!-- aliases:start --> and <!-- aliases:end -->) is out of date with src/models/mod.rs; replace it with:\n{expected}"
        );
    }

    fn none() -> AliasOverrides {
        AliasOverrides::default()
    }

    #[test]
    fn aliases_resolve_to_documented_models() {
        let gpt4 = resolve("gpt-4", &none()).unwrap();
        assert_eq!(gpt4.upstream_id, "@cf/qwen/qwen3-30b-a3b-fp8");
        assert_eq!(gpt4.requested, "gpt-4");
        assert_eq!(gpt4.spec.family, Family::OpenAiNativeText);
        let gpt35 = resolve("gpt-3.5-turbo", &none()).unwrap();
        assert_eq!(gpt35.upstream_id, "@cf/meta/llama-3-8b-instruct");
        assert_eq!(gpt35.spec.family, Family::LegacyText);
    }

    #[test]
    fn direct_ids_pass_through_even_when_unlisted() {
        let listed = resolve("@cf/meta/llama-3.1-8b-instruct", &none()).unwrap();
        assert_eq!(listed.spec.family, Family::LegacyText);
        let unlisted = resolve("@cf/someone/new-model", &none()).unwrap();
        assert_eq!(unlisted.upstream_id, "@cf/someone/new-model");
        assert!(listed.listed && !unlisted.listed);
    }

    #[test]
    fn unknown_names_are_not_substituted() {
        assert_eq!(
            resolve("gpt-17", &none()),
            Err(GatewayError::ModelNotFound {
                model: "gpt-17".into()
            })
        );
        assert_eq!(resolve("", &none()).unwrap_err().status(), 400);
        assert_eq!(resolve("@cf/", &none()).unwrap_err().status(), 404);
    }

    #[test]
    fn overrides_win_and_are_validated() {
        let overrides = AliasOverrides::parse(
            r#"{"gpt-4":"@cf/meta/llama-3-8b-instruct","mine":"@cf/qwen/qwen3-30b-a3b-fp8"}"#,
        )
        .unwrap();
        assert_eq!(
            resolve("gpt-4", &overrides).unwrap().upstream_id,
            "@cf/meta/llama-3-8b-instruct"
        );
        assert_eq!(
            resolve("mine", &overrides).unwrap().upstream_id,
            "@cf/qwen/qwen3-30b-a3b-fp8"
        );
        assert!(AliasOverrides::parse("[1]").is_err());
        let bad = AliasOverrides::parse(r#"{"x":"gpt-4"}"#).unwrap();
        assert_eq!(resolve("x", &bad).unwrap_err().status(), 500);
    }

    #[test]
    fn every_listed_id_resolves() {
        let overrides =
            AliasOverrides::parse(r#"{"house-model":"@cf/meta/llama-3-8b-instruct"}"#).unwrap();
        let listed = list_models(&overrides, None);
        assert!(listed.iter().any(|m| m.id == "house-model"));
        assert!(listed.iter().any(|m| m.id == "gpt-4"));
        for model in &listed {
            assert!(
                resolve(&model.id, &overrides).is_ok(),
                "{} does not resolve",
                model.id
            );
            assert!(!model.id.contains('#'));
        }
        let mut ids: Vec<_> = listed.iter().map(|m| &m.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), listed.len(), "duplicate ids in the list");
    }

    #[test]
    fn alias_targets_are_all_in_the_catalogue() {
        for (alias, target) in ALIASES {
            assert!(
                catalogue::find(target).is_some(),
                "{alias} → {target} is not catalogued"
            );
        }
    }
}
