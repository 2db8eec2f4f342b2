//! Secrets are never shown back: a setting that holds one serializes as an empty string, so
//! `config show`, the dashboard's settings page and any debug dump print nothing of it.

/// `#[serde(serialize_with = "crate::domain::redact::never_shown")]` on a secret field.
pub fn never_shown<T, S: serde::Serializer>(_: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("")
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct WithSecret {
        #[serde(serialize_with = "super::never_shown")]
        token: String,
    }

    #[test]
    fn a_secret_serializes_as_nothing() {
        let json = serde_json::to_string(&WithSecret { token: "hunter2".into() }).unwrap();
        assert_eq!(json, r#"{"token":""}"#);
    }
}
