//! Ids that travel between modules (the bus, the stores' callers), typed so an action's id
//! cannot be handed where an anomaly's is wanted. Both are UUID text as stored; they deref
//! to `&str` for queries.

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// Reads a stored id (any text is one; the database decides which exist).
            pub fn parse(text: &str) -> Option<Self> {
                Some($name(text.to_string()))
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type!(
    /// An action's id (`actions.id`).
    ActionId,
    /// An anomaly's id (`anomalies.id`).
    AnomalyId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_as_the_text_it_holds() {
        let id = ActionId::new("0193-a");
        assert_eq!(&*id, "0193-a");
        assert_eq!(id.to_string(), "0193-a");
        assert_ne!(AnomalyId::new("x"), AnomalyId::new("y"));
    }
}
