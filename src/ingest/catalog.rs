//! The providers CostGuard knows, and the credential fields each one's adapter reads from the
//! encrypted store (in addition to its SDK's standard chain: environment, profiles, workload
//! identity).

#[derive(Debug, PartialEq, Eq)]
pub struct CredentialField {
    pub name: &'static str,
    pub label: &'static str,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ProviderKind {
    /// The source name: cursor rows, metrics, URLs.
    pub name: &'static str,
    pub title: &'static str,
    pub fields: &'static [CredentialField],
    /// This build has an adapter for it (it runs once config.toml turns it on).
    pub adapter: bool,
}

const fn field(name: &'static str, label: &'static str) -> CredentialField {
    CredentialField { name, label }
}

pub const KINDS: &[ProviderKind] = &[
    ProviderKind { name: "simulated", title: "Simulated clouds", fields: &[], adapter: true },
    ProviderKind {
        name: "aws",
        title: "AWS (Cost Explorer, EC2)",
        fields: &[field("access_key_id", "Access key id"), field("secret_access_key", "Secret access key")],
        adapter: true,
    },
    ProviderKind {
        name: "gcp",
        title: "Google Cloud (BigQuery billing export and jobs)",
        fields: &[field("service_account_json", "Service account key (JSON)")],
        adapter: true,
    },
    ProviderKind {
        name: "azure",
        title: "Azure (Cost Management, VMs)",
        fields: &[
            field("tenant_id", "Tenant id"),
            field("client_id", "Client id"),
            field("client_secret", "Client secret"),
        ],
        adapter: true,
    },
    ProviderKind {
        name: "openai",
        title: "OpenAI (usage and costs)",
        fields: &[field("admin_key", "Admin API key")],
        adapter: true,
    },
    ProviderKind {
        name: "anthropic",
        title: "Anthropic (usage and cost)",
        fields: &[field("admin_key", "Admin API key")],
        adapter: true,
    },
];

pub fn find(name: &str) -> Option<&'static ProviderKind> {
    KINDS.iter().find(|k| k.name == name)
}
