//! What a budget counts: everything, or the spend of one provider, sub-account or service
//! (any combination of the three), one tag value, or one LLM API key. Which of the
//! detective's series it covers follows from it: the service series for the ledger's
//! columns, the tag series for a tag, the LLM series for a key.

use crate::domain::detect::series::SeriesId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagValue {
    pub key: String,
    pub value: String,
}

/// The spend a budget counts. All fields empty: everything in the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scope {
    /// As the ledger names it (e.g. "Google Cloud", "AWS", "openai").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_key: Option<String>,
}

/// Which part of the spend a scope reads: the ledger's cost records filtered by columns, one
/// tag value's rollup, or the LLM usage of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    Ledger,
    Tag,
    LlmKey,
}

impl Scope {
    pub fn counts(&self) -> Counts {
        match (&self.tag, &self.llm_key) {
            (Some(_), _) => Counts::Tag,
            (None, Some(_)) => Counts::LlmKey,
            (None, None) => Counts::Ledger,
        }
    }

    /// The scope's fields that cannot go together, as (field, why): a tag cuts across
    /// providers and services, and an LLM key's spend has no sub-account or service of the
    /// ledger's (its provider may be named).
    pub fn conflict(&self) -> Option<(&'static str, &'static str)> {
        let ledger_fields = self.provider.is_some() || self.sub_account.is_some() || self.service.is_some();
        if self.tag.is_some() && (ledger_fields || self.llm_key.is_some()) {
            return Some(("scope.tag", "a tag scope stands alone: it cuts across providers, services and keys"));
        }
        if self.llm_key.is_some() && (self.sub_account.is_some() || self.service.is_some()) {
            return Some(("scope.llm_key", "an LLM key scope may name a provider, not a sub-account or service"));
        }
        None
    }

    /// Whether the series' spend is part of this scope's.
    pub fn covers(&self, series: &SeriesId) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        match (self.counts(), series) {
            (Counts::Tag, SeriesId::Tag { key, value }) => {
                self.tag.as_ref().is_some_and(|t| &t.key == key && &t.value == value)
            }
            (Counts::LlmKey, SeriesId::Llm { provider, api_key, .. }) => {
                is(&self.llm_key, api_key) && is(&self.provider, provider)
            }
            (Counts::Ledger, SeriesId::Service { provider, sub_account, service }) => {
                is(&self.provider, provider) && is(&self.sub_account, sub_account) && is(&self.service, service)
            }
            _ => false,
        }
    }

    /// "everything", "Google Cloud / analytics-prod", "tag team=data", "LLM key sk-1".
    pub fn describe(&self) -> String {
        if let Some(t) = &self.tag {
            return format!("tag {}={}", t.key, t.value);
        }
        if let Some(k) = &self.llm_key {
            return match &self.provider {
                Some(p) => format!("{p} LLM key {k}"),
                None => format!("LLM key {k}"),
            };
        }
        let parts: Vec<&str> =
            [&self.provider, &self.sub_account, &self.service].into_iter().filter_map(|p| p.as_deref()).collect();
        if parts.is_empty() {
            "everything".into()
        } else {
            parts.join(" / ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(p: &str, a: &str, s: &str) -> SeriesId {
        SeriesId::Service { provider: p.into(), sub_account: a.into(), service: s.into() }
    }

    #[test]
    fn a_scope_covers_the_series_whose_spend_it_counts() {
        let everything = Scope::default();
        assert!(everything.covers(&service("AWS", "1", "EC2")));
        assert!(!everything.covers(&SeriesId::Tag { key: "team".into(), value: "data".into() }), "counted twice");
        let gcp = Scope { provider: Some("Google Cloud".into()), ..Scope::default() };
        assert!(gcp.covers(&service("Google Cloud", "p", "BigQuery")));
        assert!(!gcp.covers(&service("AWS", "p", "BigQuery")));
        let bq = Scope { service: Some("BigQuery".into()), ..gcp.clone() };
        assert!(
            bq.covers(&service("Google Cloud", "x", "BigQuery")) && !bq.covers(&service("Google Cloud", "x", "GCS"))
        );
        let team = Scope { tag: Some(TagValue { key: "team".into(), value: "data".into() }), ..Scope::default() };
        assert!(team.covers(&SeriesId::Tag { key: "team".into(), value: "data".into() }));
        assert!(!team.covers(&SeriesId::Tag { key: "team".into(), value: "web".into() }));
        assert!(!team.covers(&service("AWS", "1", "EC2")));
        let key = Scope { llm_key: Some("k1".into()), ..Scope::default() };
        let llm = |k: &str| SeriesId::Llm { provider: "openai".into(), api_key: k.into(), model: "gpt".into() };
        assert!(key.covers(&llm("k1")) && !key.covers(&llm("k2")));
        assert_eq!((team.counts(), key.counts(), gcp.counts()), (Counts::Tag, Counts::LlmKey, Counts::Ledger));
        assert_eq!(bq.describe(), "Google Cloud / BigQuery");
        assert_eq!(everything.describe(), "everything");
    }

    #[test]
    fn fields_that_cannot_go_together_are_named() {
        let tag = Some(TagValue { key: "team".into(), value: "data".into() });
        let mixed = Scope { tag: tag.clone(), provider: Some("AWS".into()), ..Scope::default() };
        assert_eq!(mixed.conflict().map(|c| c.0), Some("scope.tag"));
        let key = Scope { llm_key: Some("k".into()), service: Some("s".into()), ..Scope::default() };
        assert_eq!(key.conflict().map(|c| c.0), Some("scope.llm_key"));
        let fine = Scope { llm_key: Some("k".into()), provider: Some("openai".into()), ..Scope::default() };
        assert_eq!(fine.conflict(), None);
    }
}
