//! The model list (`GET /v1/models`) and the search page's entries, built from what the
//! Workers AI binding reports (`env.AI.models()`) merged with the static catalogue and the aliases.
//! The binding's list is optional: without it (an outage, or a binding without `models()`), the
//! static catalogue alone answers.

use serde::{Deserialize, Serialize};

use super::catalogue::{self, Capabilities, ModelSpec};
use super::{alias_target, resolve, AliasOverrides, ALIASES};

/// One record of `env.AI.models()`, read leniently: only what the list and search page show.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct UpstreamModel {
    pub name: String,
    pub description: String,
    pub task: UpstreamTask,
    /// `"2023-09-25 19:21:11.898"` on the REST API; absent from the binding's declared type.
    pub created_at: Option<String>,
    pub properties: Vec<UpstreamProperty>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct UpstreamTask {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct UpstreamProperty {
    pub property_id: String,
    pub value: serde_json::Value,
}

impl UpstreamModel {
    fn property(&self, id: &str) -> Option<&serde_json::Value> {
        self.properties
            .iter()
            .find(|p| p.property_id == id)
            .map(|p| &p.value)
    }

    fn flag(&self, id: &str) -> bool {
        match self.property(id) {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        }
    }

    fn number(&self, id: &str) -> Option<u32> {
        match self.property(id)? {
            serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn created(&self) -> Option<u64> {
        self.created_at.as_deref().and_then(unix_seconds)
    }
}

/// Parses the JSON of `env.AI.models()`. Records without a usable `@cf/`/`@hf/` name are skipped;
/// anything that is not a list gives `None` (the caller falls back to the static catalogue).
pub fn parse_upstream_models(json: &str) -> Option<Vec<UpstreamModel>> {
    let records: Vec<serde_json::Value> = serde_json::from_str(json).ok()?;
    Some(
        records
            .into_iter()
            .filter_map(|record| serde_json::from_value::<UpstreamModel>(record).ok())
            .filter(|m| m.name.starts_with("@cf/") || m.name.starts_with("@hf/"))
            .collect(),
    )
}

/// `"2023-09-25 19:21:11.898"` (or `…T…Z`) → Unix seconds.
fn unix_seconds(text: &str) -> Option<u64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (
        number(11..13).unwrap_or(0),
        number(14..16).unwrap_or(0),
        number(17..19).unwrap_or(0),
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedModel {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: String,
}

/// One model on the search page (and in its JSON form).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchEntry {
    pub id: String,
    pub task: String,
    pub description: String,
    pub owned_by: String,
    pub created: u64,
    /// Names a client can send instead of `id`.
    pub aliases: Vec<String>,
    /// `tools`, `reasoning`, `vision`, `json_mode`, plus what the endpoint serves it.
    pub capabilities: Vec<&'static str>,
    pub context_window: Option<u32>,
    /// The gateway endpoint that serves this model (`/v1/chat/completions`, …); `None` for tasks
    /// no endpoint serves (image-to-text).
    pub endpoint: Option<&'static str>,
}

fn owned_by(id: &str) -> String {
    // "@cf/meta/llama-3-8b-instruct" → "meta"
    id.split('/').nth(1).unwrap_or("cloudflare").to_owned()
}

/// The gateway endpoint for a task (Workers AI's task names).
fn endpoint_for_task(task: &str) -> Option<&'static str> {
    Some(match task {
        "Text Generation" => "/v1/chat/completions",
        "Text Embeddings" => "/v1/embeddings",
        "Text-to-Image" => "/v1/images/generations",
        "Automatic Speech Recognition" => "/v1/audio/transcriptions",
        "Text-to-Speech" => "/v1/audio/speech",
        "Text Classification" => "/v1/moderations",
        _ => return None,
    })
}

fn capability_names(capabilities: Capabilities) -> Vec<&'static str> {
    [
        (capabilities.tools, "tools"),
        (capabilities.reasoning, "reasoning"),
        (capabilities.vision, "vision"),
        (capabilities.json_mode, "json_mode"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// Every model id known: the binding's list first (it is the live truth), then catalogue models
/// it did not mention. Each with what we know of it.
fn known_models(upstream: Option<&[UpstreamModel]>) -> Vec<SearchEntry> {
    let mut entries: Vec<SearchEntry> = Vec::new();
    let from_spec = |spec: &ModelSpec| SearchEntry {
        id: spec.id.to_owned(),
        task: spec.family.task_name().to_owned(),
        description: String::new(),
        owned_by: spec.owned_by().to_owned(),
        created: spec.created,
        aliases: Vec::new(),
        capabilities: capability_names(spec.capabilities),
        context_window: spec.context_window,
        endpoint: endpoint_for_task(spec.family.task_name()),
    };
    for model in upstream.unwrap_or_default() {
        if entries.iter().any(|e| e.id == model.name) {
            continue;
        }
        let entry = match catalogue::find(&model.name) {
            // The catalogue's family decides the task (llama-guard is a classifier to us).
            Some(spec) => SearchEntry {
                description: model.description.clone(),
                created: model.created().unwrap_or(spec.created),
                context_window: spec.context_window.or(model.number("context_window")),
                ..from_spec(spec)
            },
            None => {
                let capabilities = capability_names(Capabilities {
                    tools: model.flag("function_calling"),
                    reasoning: model.flag("reasoning"),
                    vision: model.flag("vision"),
                    json_mode: false,
                });
                SearchEntry {
                    id: model.name.clone(),
                    task: model.task.name.clone(),
                    description: model.description.clone(),
                    owned_by: owned_by(&model.name),
                    created: model.created().unwrap_or(0),
                    aliases: Vec::new(),
                    capabilities,
                    context_window: model.number("context_window"),
                    endpoint: endpoint_for_task(&model.task.name),
                }
            }
        };
        entries.push(entry);
    }
    for spec in catalogue::CATALOGUE {
        if !entries.iter().any(|e| e.id == spec.id) {
            entries.push(from_spec(spec));
        }
    }
    entries
}

/// Aliases usable on this deployment (built-in ones not overridden away, then overrides), with
/// the Workers AI id each resolves to.
fn usable_aliases(overrides: &AliasOverrides) -> Vec<(String, String)> {
    let mut aliases: Vec<(String, String)> = Vec::new();
    let names = ALIASES
        .iter()
        .map(|(alias, _)| *alias)
        .chain(overrides.iter().map(|(alias, _)| alias));
    for name in names {
        if aliases.iter().any(|(a, _)| a == name) || alias_target(name, overrides).is_none() {
            continue;
        }
        if let Ok(resolved) = resolve(name, overrides) {
            aliases.push((resolved.requested, resolved.upstream_id));
        }
    }
    aliases
}

/// The search page's entries: every model with its aliases attached.
pub fn search_entries(
    overrides: &AliasOverrides,
    upstream: Option<&[UpstreamModel]>,
) -> Vec<SearchEntry> {
    let mut entries = known_models(upstream);
    for (alias, target) in usable_aliases(overrides) {
        match entries.iter_mut().find(|e| e.id == target) {
            Some(entry) => entry.aliases.push(alias),
            // An override pointing at an id nobody listed: show it on its own.
            None => {
                let resolved = resolve(&target, overrides).ok();
                let task = resolved
                    .as_ref()
                    .map_or("Text Generation", |r| r.spec.family.task_name());
                entries.push(SearchEntry {
                    id: target.clone(),
                    task: task.to_owned(),
                    description: String::new(),
                    owned_by: owned_by(&target),
                    created: 0,
                    aliases: vec![alias],
                    capabilities: Vec::new(),
                    context_window: None,
                    endpoint: endpoint_for_task(task),
                });
            }
        }
    }
    entries
}

/// Filters entries by a free-text query (id, alias, description, task, capability) and a task
/// name; both case-insensitive, empty meaning "any".
pub fn filter_entries(entries: Vec<SearchEntry>, query: &str, task: &str) -> Vec<SearchEntry> {
    let query = query.trim().to_lowercase();
    let task = task.trim().to_lowercase();
    entries
        .into_iter()
        .filter(|e| task.is_empty() || e.task.to_lowercase() == task)
        .filter(|e| {
            query.is_empty()
                || query.split_whitespace().all(|word| {
                    e.id.to_lowercase().contains(word)
                        || e.description.to_lowercase().contains(word)
                        || e.task.to_lowercase().contains(word)
                        || e.aliases.iter().any(|a| a.to_lowercase().contains(word))
                        || e.capabilities.iter().any(|c| c.contains(word))
                })
        })
        .collect()
}

/// Every name a client can send as `model`: model ids (live list and catalogue), then aliases.
pub fn list_models(
    overrides: &AliasOverrides,
    upstream: Option<&[UpstreamModel]>,
) -> Vec<ListedModel> {
    let entries = search_entries(overrides, upstream);
    let mut listed: Vec<ListedModel> = entries
        .iter()
        .map(|e| ListedModel {
            id: e.id.clone(),
            object: "model",
            created: e.created,
            owned_by: e.owned_by.clone(),
        })
        .collect();
    for entry in &entries {
        for alias in &entry.aliases {
            if listed.iter().any(|m| &m.id == alias) {
                continue;
            }
            listed.push(ListedModel {
                id: alias.clone(),
                object: "model",
                created: entry.created,
                owned_by: "openai-to-workers-ai".to_owned(),
            });
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream() -> Vec<UpstreamModel> {
        parse_upstream_models(
            r#"[
              {"id":"u1","source":1,"name":"@cf/meta/llama-3-8b-instruct","description":"Llama 3 8B",
               "task":{"id":"t","name":"Text Generation","description":"…"},
               "created_at":"2024-04-18 20:31:47.273","tags":[],"properties":[]},
              {"id":"u2","name":"@cf/new/brand-new-model","description":"Fresh",
               "task":{"name":"Text Generation"},
               "properties":[{"property_id":"function_calling","value":"true"},
                             {"property_id":"context_window","value":"65536"}]},
              {"id":"u3","name":"not-a-workers-ai-id"},
              {"id":"u4","name":"@cf/meta/llama-guard-3-8b","task":{"name":"Text Generation"}},
              42
            ]"#,
        )
        .unwrap()
    }

    #[test]
    fn parses_leniently_and_skips_junk() {
        let models = upstream();
        assert_eq!(models.len(), 3);
        assert_eq!(models[0].created(), Some(1_713_472_307));
        assert!(parse_upstream_models("{}").is_none());
        assert_eq!(parse_upstream_models("[]"), Some(vec![]));
    }

    #[test]
    fn dates_convert_to_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01 00:00:00"), Some(0));
        assert_eq!(unix_seconds("2023-09-25 19:21:11.898"), Some(1_695_669_671));
        assert_eq!(unix_seconds("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(unix_seconds("2024-13-01"), None);
        assert_eq!(unix_seconds("soon"), None);
        assert_eq!(unix_seconds("1969-12-31 00:00:00"), None);
    }

    #[test]
    fn live_list_adds_new_models_and_keeps_the_catalogue() {
        let none = AliasOverrides::default();
        let models = upstream();
        let listed = list_models(&none, Some(&models));
        let ids: Vec<&str> = listed.iter().map(|m| m.id.as_str()).collect();
        assert!(ids.contains(&"@cf/new/brand-new-model"));
        assert!(ids.contains(&"@cf/openai/gpt-oss-120b"), "catalogue kept");
        assert!(ids.contains(&"gpt-4"));
        let llama = listed
            .iter()
            .find(|m| m.id == "@cf/meta/llama-3-8b-instruct")
            .unwrap();
        assert_eq!(llama.created, 1_713_472_307);
        assert_eq!(llama.owned_by, "meta");
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "no duplicates");
        for id in ids {
            assert!(resolve(id, &none).is_ok(), "{id} does not resolve");
        }
        assert_eq!(
            list_models(&none, None).len(),
            list_models(&none, Some(&[])).len()
        );
    }

    #[test]
    fn search_entries_carry_aliases_capabilities_and_endpoints() {
        let overrides =
            AliasOverrides::parse(r#"{"house":"@cf/meta/llama-3-8b-instruct"}"#).unwrap();
        let models = upstream();
        let entries = search_entries(&overrides, Some(&models));
        let find = |id: &str| entries.iter().find(|e| e.id == id).unwrap();
        let llama = find("@cf/meta/llama-3-8b-instruct");
        assert!(llama.aliases.contains(&"gpt-3.5-turbo".to_owned()));
        assert!(llama.aliases.contains(&"house".to_owned()));
        assert_eq!(llama.description, "Llama 3 8B");
        let fresh = find("@cf/new/brand-new-model");
        assert_eq!(fresh.capabilities, vec!["tools"]);
        assert_eq!(fresh.context_window, Some(65_536));
        assert_eq!(
            find("@cf/meta/llama-guard-3-8b").endpoint,
            Some("/v1/moderations")
        );
        assert_eq!(find("@cf/qwen/qwen3-30b-a3b-fp8").capabilities[0], "tools");
        assert_eq!(
            find("@cf/black-forest-labs/flux-1-schnell").endpoint,
            Some("/v1/images/generations")
        );
    }

    #[test]
    fn filters_by_words_and_task() {
        let entries = search_entries(&AliasOverrides::default(), None);
        let images = filter_entries(entries.clone(), "", "text-to-image");
        assert!(images.len() >= 3 && images.iter().all(|e| e.task == "Text-to-Image"));
        let dalle = filter_entries(entries.clone(), "DALL-E-3", "");
        assert_eq!(dalle.len(), 1);
        let tools = filter_entries(entries.clone(), "qwen tools", "");
        assert!(tools.iter().all(|e| e.id.contains("qwen")));
        assert!(!tools.is_empty());
        assert!(filter_entries(entries, "no-such-thing", "").is_empty());
    }
}
