//! The fictitious company "Northwind Labs": its accounts, services and resources across
//! AWS, Google Cloud, Azure, OpenAI and Anthropic. Every line here becomes one FOCUS
//! line item per hour. Rates are list prices of the day, rounded.

/// How a line's spend moves over the day and week.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Peak-to-mean swing over the day (0 = flat), peaking at 15:00 UTC.
    pub diurnal: f64,
    /// Multiplier on Saturdays and Sundays.
    pub weekend: f64,
    /// Growth per 30 days (0.03 = 3 %).
    pub growth: f64,
    /// Relative noise amplitude.
    pub noise: f64,
}

const FLAT: Shape = Shape { diurnal: 0.0, weekend: 1.0, growth: 0.02, noise: 0.01 };
const ALWAYS_ON: Shape = Shape { diurnal: 0.0, weekend: 1.0, growth: 0.0, noise: 0.0 };
const WEB: Shape = Shape { diurnal: 0.35, weekend: 0.75, growth: 0.04, noise: 0.06 };
const OFFICE: Shape = Shape { diurnal: 0.6, weekend: 0.25, growth: 0.03, noise: 0.08 };
const BATCH: Shape = Shape { diurnal: -0.4, weekend: 1.1, growth: 0.05, noise: 0.1 };

/// Token prices in USD per million tokens: (input, cached input, output).
#[derive(Debug, Clone, Copy)]
pub struct TokenPrices {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
}

#[derive(Debug, Clone)]
pub struct LlmKey {
    pub key_id: &'static str,
    pub key_name: &'static str,
    pub model: &'static str,
    /// Input tokens per hour at the mean.
    pub input_tokens_per_hour: f64,
    pub prices: TokenPrices,
}

/// The kind of thing an executor could act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    BigqueryJob,
    Ec2Instance,
    AzureVm,
    LlmApiKey,
    Other,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub provider: &'static str,
    pub billing_account: (&'static str, &'static str),
    pub sub_account: (&'static str, &'static str),
    pub service: &'static str,
    pub category: &'static str,
    pub region: &'static str,
    pub sku: &'static str,
    pub unit: &'static str,
    pub resource: Option<(&'static str, ResourceKind, &'static str)>,
    /// Mean spend per hour in USD (ignored for LLM lines, which price their tokens).
    pub hourly_usd: f64,
    pub shape: Shape,
    pub team: &'static str,
    pub env: &'static str,
    pub llm: Option<LlmKey>,
}

pub const AWS: &str = "AWS";
pub const GCP: &str = "Google Cloud";
pub const AZURE: &str = "Microsoft";
pub const OPENAI: &str = "OpenAI";
pub const ANTHROPIC: &str = "Anthropic";

const AWS_BILLING: (&str, &str) = ("111111111111", "Northwind Labs");
const AWS_PROD: (&str, &str) = ("210987654321", "prod");
const AWS_STAGING: (&str, &str) = ("345678901234", "staging");
const AWS_ML: (&str, &str) = ("456789012345", "ml-sandbox");
const GCP_BILLING: (&str, &str) = ("01A2B3-C4D5E6-F7A8B9", "Northwind Labs");
pub const GCP_ANALYTICS: (&str, &str) = ("analytics-prod", "Analytics Prod");
const GCP_WEB: (&str, &str) = ("web-prod", "Web Prod");
const AZ_BILLING: (&str, &str) = ("8811-northwind-ea", "Northwind EA");
const AZ_CORP: (&str, &str) = ("7f3a1c2e-0b6d-4e4f-9a51-2c6b8d0e1f11", "Corp IT");
pub const AZ_DATA: (&str, &str) = ("c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f", "Data Platform");
const OPENAI_ORG: (&str, &str) = ("org-northwind", "Northwind Labs");
pub const OPENAI_SUPPORT: (&str, &str) = ("proj_support", "support-bot");
const OPENAI_SEARCH: (&str, &str) = ("proj_search", "search");
const ANTHROPIC_ORG: (&str, &str) = ("northwind", "Northwind Labs");
const ANTHROPIC_ENG: (&str, &str) = ("wrkspc_engineering", "engineering");
const ANTHROPIC_DOCS: (&str, &str) = ("wrkspc_docs", "docs-assistant");

pub const GPT_4O: TokenPrices = TokenPrices { input: 2.50, cached_input: 1.25, output: 10.00 };
const GPT_4O_MINI: TokenPrices = TokenPrices { input: 0.15, cached_input: 0.075, output: 0.60 };
const EMBEDDING_SMALL: TokenPrices = TokenPrices { input: 0.02, cached_input: 0.02, output: 0.0 };
const CLAUDE_SONNET: TokenPrices = TokenPrices { input: 3.00, cached_input: 0.30, output: 15.00 };
const CLAUDE_HAIKU: TokenPrices = TokenPrices { input: 0.80, cached_input: 0.08, output: 4.00 };

/// The key whose usage runs away in the scripted LLM incident.
pub const RUNAWAY_KEY: &str = "key_support_agent";

#[allow(clippy::too_many_arguments)]
fn line(
    provider: &'static str,
    billing: (&'static str, &'static str),
    sub: (&'static str, &'static str),
    service: &'static str,
    category: &'static str,
    region: &'static str,
    sku: &'static str,
    unit: &'static str,
    hourly_usd: f64,
    shape: Shape,
    team: &'static str,
    env: &'static str,
) -> Line {
    Line {
        provider,
        billing_account: billing,
        sub_account: sub,
        service,
        category,
        region,
        sku,
        unit,
        resource: None,
        hourly_usd,
        shape,
        team,
        env,
        llm: None,
    }
}

impl Line {
    fn on(mut self, id: &'static str, kind: ResourceKind, name: &'static str) -> Line {
        self.resource = Some((id, kind, name));
        self
    }

    fn tokens(
        mut self,
        key_id: &'static str,
        key_name: &'static str,
        model: &'static str,
        per_hour: f64,
        prices: TokenPrices,
    ) -> Line {
        self.llm = Some(LlmKey { key_id, key_name, model, input_tokens_per_hour: per_hour, prices });
        self.resource = Some((key_id, ResourceKind::LlmApiKey, key_name));
        self.sku = model;
        self
    }
}

/// Every line item stream of the company, in a fixed order (the order seeds the noise).
pub fn lines() -> Vec<Line> {
    use ResourceKind::*;
    vec![
        // AWS prod
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Elastic Compute Cloud", "Compute", "us-east-1", "BoxUsage:m6i.xlarge", "Hrs", 0.192, ALWAYS_ON, "web", "prod").on("i-0a1f2e3d4c5b60001", Ec2Instance, "web-1"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Elastic Compute Cloud", "Compute", "us-east-1", "BoxUsage:m6i.xlarge", "Hrs", 0.192, ALWAYS_ON, "web", "prod").on("i-0a1f2e3d4c5b60002", Ec2Instance, "web-2"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Elastic Compute Cloud", "Compute", "us-east-1", "BoxUsage:c6i.2xlarge", "Hrs", 0.34, ALWAYS_ON, "api", "prod").on("i-0a1f2e3d4c5b60003", Ec2Instance, "api-1"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Elastic Compute Cloud", "Compute", "us-east-1", "BoxUsage:r6i.4xlarge", "Hrs", 1.008, ALWAYS_ON, "data", "prod").on("i-0a1f2e3d4c5b60004", Ec2Instance, "batch-1"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Relational Database Service", "Databases", "us-east-1", "InstanceUsage:db.r6g.xlarge", "Hrs", 0.48, ALWAYS_ON, "api", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Simple Storage Service", "Storage", "us-east-1", "TimedStorage-ByteHrs", "GB-Mo", 0.95, FLAT, "data", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon CloudFront", "Networking", "global", "DataTransfer-Out-Bytes", "GB", 0.62, WEB, "web", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "AWS Lambda", "Compute", "us-east-1", "Request", "Requests", 0.21, WEB, "api", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon DynamoDB", "Databases", "us-east-1", "ReadRequestUnits", "ReadRequestUnits", 0.33, WEB, "api", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "AmazonCloudWatch", "Management and Governance", "us-east-1", "CW:MetricMonitorUsage", "Metrics", 0.12, FLAT, "platform", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "Elastic Load Balancing", "Networking", "us-east-1", "LoadBalancerUsage", "LCU-Hrs", 0.09, WEB, "web", "prod"),
        line(AWS, AWS_BILLING, AWS_PROD, "Amazon Virtual Private Cloud", "Networking", "us-east-1", "NatGateway-Bytes", "GB", 0.27, WEB, "platform", "prod"),
        // AWS staging
        line(AWS, AWS_BILLING, AWS_STAGING, "Amazon Elastic Compute Cloud", "Compute", "us-west-2", "BoxUsage:t3.large", "Hrs", 0.0832, ALWAYS_ON, "web", "staging").on("i-0b2c3d4e5f6a70011", Ec2Instance, "staging-web"),
        line(AWS, AWS_BILLING, AWS_STAGING, "Amazon Relational Database Service", "Databases", "us-west-2", "InstanceUsage:db.t4g.medium", "Hrs", 0.065, ALWAYS_ON, "api", "staging"),
        // AWS ML sandbox
        line(AWS, AWS_BILLING, AWS_ML, "Amazon Elastic Compute Cloud", "Compute", "us-east-1", "BoxUsage:g5.xlarge", "Hrs", 1.006, OFFICE, "ml", "dev").on("i-0c3d4e5f6a7b80021", Ec2Instance, "notebook-gpu"),
        line(AWS, AWS_BILLING, AWS_ML, "Amazon SageMaker", "AI and Machine Learning", "us-east-1", "Notebk:ml.t3.medium", "Hrs", 0.35, OFFICE, "ml", "dev"),
        line(AWS, AWS_BILLING, AWS_ML, "Amazon Simple Storage Service", "Storage", "us-east-1", "TimedStorage-ByteHrs", "GB-Mo", 0.28, FLAT, "ml", "dev"),
        // Google Cloud
        line(GCP, GCP_BILLING, GCP_ANALYTICS, "BigQuery", "Analytics", "US", "Analysis", "tebibyte", 2.40, BATCH, "data", "prod"),
        line(GCP, GCP_BILLING, GCP_ANALYTICS, "BigQuery", "Analytics", "US", "Active Logical Storage", "gibibyte month", 0.55, FLAT, "data", "prod"),
        line(GCP, GCP_BILLING, GCP_ANALYTICS, "Cloud Storage", "Storage", "US", "Standard Storage US Multi-region", "gibibyte month", 0.40, FLAT, "data", "prod"),
        line(GCP, GCP_BILLING, GCP_ANALYTICS, "Dataflow", "Analytics", "us-central1", "vCPU Time Batch", "hour", 0.85, BATCH, "data", "prod"),
        line(GCP, GCP_BILLING, GCP_ANALYTICS, "Cloud Pub/Sub", "Integration", "global", "Message Delivery Basic", "tebibyte", 0.14, WEB, "data", "prod"),
        line(GCP, GCP_BILLING, GCP_WEB, "Compute Engine", "Compute", "us-central1", "N2 Instance Core running", "hour", 0.39, ALWAYS_ON, "web", "prod").on("web-prod-vm-1", Other, "web-prod-vm-1"),
        line(GCP, GCP_BILLING, GCP_WEB, "Cloud SQL", "Databases", "us-central1", "DB custom CORE", "hour", 0.31, ALWAYS_ON, "web", "prod"),
        line(GCP, GCP_BILLING, GCP_WEB, "Cloud Run", "Compute", "us-central1", "CPU Allocation Time", "vCPU-second", 0.26, WEB, "web", "prod"),
        line(GCP, GCP_BILLING, GCP_WEB, "Networking", "Networking", "us-central1", "Network Internet Egress", "gibibyte", 0.18, WEB, "web", "prod"),
        // Azure
        line(AZURE, AZ_BILLING, AZ_CORP, "Virtual Machines", "Compute", "westeurope", "D4s v5", "1 Hour", 0.192, ALWAYS_ON, "it", "prod").on("/subscriptions/7f3a1c2e-0b6d-4e4f-9a51-2c6b8d0e1f11/resourceGroups/corp/providers/Microsoft.Compute/virtualMachines/vm-corp-ad01", AzureVm, "vm-corp-ad01"),
        line(AZURE, AZ_BILLING, AZ_CORP, "Virtual Machines", "Compute", "westeurope", "D8s v5", "1 Hour", 0.384, OFFICE, "it", "prod").on("/subscriptions/7f3a1c2e-0b6d-4e4f-9a51-2c6b8d0e1f11/resourceGroups/corp/providers/Microsoft.Compute/virtualMachines/vm-corp-files", AzureVm, "vm-corp-files"),
        line(AZURE, AZ_BILLING, AZ_CORP, "Storage", "Storage", "westeurope", "Hot LRS Data Stored", "1 GB/Month", 0.22, FLAT, "it", "prod"),
        line(AZURE, AZ_BILLING, AZ_CORP, "Azure Monitor", "Management and Governance", "westeurope", "Analytics Logs Data Ingestion", "1 GB", 0.11, OFFICE, "it", "prod"),
        line(AZURE, AZ_BILLING, AZ_DATA, "Virtual Machines", "Compute", "westeurope", "E8s v5", "1 Hour", 0.504, BATCH, "data", "prod").on("/subscriptions/c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f/resourceGroups/etl/providers/Microsoft.Compute/virtualMachines/vm-etl-01", AzureVm, "vm-etl-01"),
        line(AZURE, AZ_BILLING, AZ_DATA, "SQL Database", "Databases", "westeurope", "vCore", "1 Hour", 0.44, ALWAYS_ON, "data", "prod"),
        line(AZURE, AZ_BILLING, AZ_DATA, "Azure Databricks", "Analytics", "westeurope", "Premium Jobs Compute DBU", "1 Hour", 0.75, BATCH, "data", "prod"),
        line(AZURE, AZ_BILLING, AZ_DATA, "Azure Kubernetes Service", "Compute", "westeurope", "Standard Uptime SLA", "1 Hour", 0.10, ALWAYS_ON, "platform", "prod"),
        line(AZURE, AZ_BILLING, AZ_DATA, "Bandwidth", "Networking", "westeurope", "Standard Data Transfer Out", "1 GB", 0.08, WEB, "data", "prod"),
        // OpenAI
        line(OPENAI, OPENAI_ORG, OPENAI_SUPPORT, "OpenAI API", "AI and Machine Learning", "global", "", "tokens", 0.0, OFFICE, "support", "prod").tokens(RUNAWAY_KEY, "support-agent", "gpt-4o", 220_000.0, GPT_4O),
        line(OPENAI, OPENAI_ORG, OPENAI_SEARCH, "OpenAI API", "AI and Machine Learning", "global", "", "tokens", 0.0, WEB, "search", "prod").tokens("key_search_rerank", "search-rerank", "gpt-4o-mini", 1_800_000.0, GPT_4O_MINI),
        line(OPENAI, OPENAI_ORG, OPENAI_SEARCH, "OpenAI API", "AI and Machine Learning", "global", "", "tokens", 0.0, WEB, "search", "prod").tokens("key_search_embed", "search-embeddings", "text-embedding-3-small", 9_000_000.0, EMBEDDING_SMALL),
        // Anthropic
        line(ANTHROPIC, ANTHROPIC_ORG, ANTHROPIC_ENG, "Claude API", "AI and Machine Learning", "global", "", "tokens", 0.0, OFFICE, "engineering", "prod").tokens("apikey_01_claude_code", "claude-code", "claude-sonnet-4", 900_000.0, CLAUDE_SONNET),
        line(ANTHROPIC, ANTHROPIC_ORG, ANTHROPIC_DOCS, "Claude API", "AI and Machine Learning", "global", "", "tokens", 0.0, WEB, "docs", "prod").tokens("apikey_02_docs_bot", "docs-bot", "claude-3-5-haiku", 600_000.0, CLAUDE_HAIKU),
    ]
}
