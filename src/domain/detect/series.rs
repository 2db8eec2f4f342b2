//! Which series the detective watches, and their stable text keys.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One watched series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeriesId {
    /// Cost of one service in one sub-account (account, project, subscription) of a provider.
    Service { provider: String, sub_account: String, service: String },
    /// Cost of everything carrying one tag value, across providers.
    Tag { key: String, value: String },
    /// LLM spend of one API key on one model.
    Llm { provider: String, api_key: String, model: String },
}

impl SeriesId {
    pub fn kind(&self) -> &'static str {
        match self {
            SeriesId::Service { .. } => "service",
            SeriesId::Tag { .. } => "tag",
            SeriesId::Llm { .. } => "llm",
        }
    }

    /// The stable key stored with anomalies: a JSON array, so no separator can collide.
    pub fn key(&self) -> String {
        let parts: [&str; 4] = match self {
            SeriesId::Service { provider, sub_account, service } => ["service", provider, sub_account, service],
            SeriesId::Tag { key, value } => ["tag", key, value, ""],
            SeriesId::Llm { provider, api_key, model } => ["llm", provider, api_key, model],
        };
        serde_json::to_string(&parts).unwrap_or_default()
    }

    pub fn parse_key(key: &str) -> Option<SeriesId> {
        let parts: [String; 4] = serde_json::from_str(key).ok()?;
        let [kind, a, b, c] = parts;
        match kind.as_str() {
            "service" => Some(SeriesId::Service { provider: a, sub_account: b, service: c }),
            "tag" => Some(SeriesId::Tag { key: a, value: b }),
            "llm" => Some(SeriesId::Llm { provider: a, api_key: b, model: c }),
            _ => None,
        }
    }

    /// Provider, where the series has one.
    pub fn provider(&self) -> Option<&str> {
        match self {
            SeriesId::Service { provider, .. } | SeriesId::Llm { provider, .. } => Some(provider),
            SeriesId::Tag { .. } => None,
        }
    }

    /// Sub-account (LLM: the API key), where the series has one.
    pub fn sub_account(&self) -> Option<&str> {
        match self {
            SeriesId::Service { sub_account, .. } => Some(sub_account),
            SeriesId::Llm { api_key, .. } => Some(api_key),
            SeriesId::Tag { .. } => None,
        }
    }

    /// Service (LLM: the model), where the series has one.
    pub fn service(&self) -> Option<&str> {
        match self {
            SeriesId::Service { service, .. } => Some(service),
            SeriesId::Llm { model, .. } => Some(model),
            SeriesId::Tag { .. } => None,
        }
    }
}

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeriesId::Service { provider, sub_account, service } => {
                write!(f, "{provider} / {sub_account} / {service}")
            }
            SeriesId::Tag { key, value } => write!(f, "tag {key}={value}"),
            SeriesId::Llm { provider, api_key, model } => write!(f, "{provider} key {api_key} / {model}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_do_not_collide_on_separators() {
        let ids = [
            SeriesId::Service { provider: "gcp".into(), sub_account: "a/b".into(), service: "c".into() },
            SeriesId::Service { provider: "gcp".into(), sub_account: "a".into(), service: "b/c".into() },
            SeriesId::Tag { key: "team".into(), value: "data".into() },
            SeriesId::Llm { provider: "openai".into(), api_key: "k\"1".into(), model: "gpt".into() },
        ];
        let keys: Vec<String> = ids.iter().map(SeriesId::key).collect();
        assert_ne!(keys[0], keys[1]);
        for (id, key) in ids.iter().zip(&keys) {
            assert_eq!(SeriesId::parse_key(key).as_ref(), Some(id));
        }
        assert_eq!(SeriesId::parse_key("[\"x\",\"\",\"\",\"\"]"), None);
        assert_eq!(SeriesId::parse_key("nonsense"), None);
        assert_eq!(ids[2].provider(), None);
        assert_eq!(ids[3].service(), Some("gpt"));
    }
}
