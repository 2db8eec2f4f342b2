//! EC2: stop, start, and resize an instance (stop, wait until stopped, change the type,
//! start, wait until running; AWS refuses a type change on a running instance). Each call
//! first reads the instance, so a repeat after a crash continues from the state it finds.
//! Tags are read from EC2 at execution time for the protection check; dry runs use EC2's
//! own `DryRun` flag, which checks permissions and the request without acting.

use crate::approval::store::ActionRow;
use crate::clouds::Vault;
use crate::domain::optimizer::ActionKind;
use crate::execute::{Executor, Verification};
use crate::providers::aws::connection::{sdk_config, AwsSettings};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{AttributeValue, Instance, InstanceStateName};
use aws_sdk_ec2::Client;
use std::collections::BTreeMap;
use std::time::Duration;

pub struct Ec2Executor {
    settings: AwsSettings,
    vault: Vault,
    poll: Duration,
}

/// What an instance needs next on the way to the action's end state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Stop,
    Start,
    ChangeType,
    Wait,
    Done,
}

/// The next step for `kind`, given the instance's state and type. Pure, so every path of
/// the resize (and its resumption after a crash) is tested without a cloud.
pub fn next_step(kind: ActionKind, state: &str, instance_type: &str, wanted_type: Option<&str>) -> Step {
    let transient = matches!(state, "pending" | "stopping" | "shutting-down");
    match kind {
        ActionKind::StopEc2Instance => match state {
            "stopped" | "terminated" => Step::Done,
            _ if transient => Step::Wait,
            _ => Step::Stop,
        },
        ActionKind::StartEc2Instance => match state {
            "running" => Step::Done,
            _ if transient => Step::Wait,
            _ => Step::Start,
        },
        _ => {
            let right_type = wanted_type.is_none_or(|w| w == instance_type);
            match (state, right_type) {
                (_, _) if transient => Step::Wait,
                ("running", true) => Step::Done,
                ("running", false) => Step::Stop,
                ("stopped", false) => Step::ChangeType,
                ("stopped", true) => Step::Start,
                _ => Step::Wait,
            }
        }
    }
}

fn wanted_type(action: &ActionRow) -> anyhow::Result<Option<String>> {
    if action.kind != ActionKind::ResizeEc2Instance {
        return Ok(None);
    }
    let params: BTreeMap<String, String> = serde_json::from_str(&action.params).unwrap_or_default();
    match params.get("instance_type").map(|t| t.trim()).filter(|t| !t.is_empty()) {
        Some(t) => Ok(Some(t.to_string())),
        None => anyhow::bail!("a resize needs params.instance_type"),
    }
}

impl Ec2Executor {
    pub fn new(settings: AwsSettings, vault: Vault) -> Self {
        Ec2Executor { settings, vault, poll: Duration::from_secs(5) }
    }

    /// How often to look at an instance while it changes state.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    async fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&sdk_config(&self.settings, &self.vault, &self.settings.region).await?))
    }

    async fn describe(&self, client: &Client, id: &str) -> anyhow::Result<Instance> {
        let out =
            client.describe_instances().instance_ids(id).send().await.map_err(|e| sdk_error("DescribeInstances", e))?;
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("EC2 has no instance {id}"))
    }

    async fn step(&self, client: &Client, action: &ActionRow, wanted: Option<&str>) -> anyhow::Result<Step> {
        let instance = self.describe(client, &action.target).await?;
        let step = next_step(action.kind, state(&instance), instance_type(&instance), wanted);
        let id = action.target.as_str();
        match step {
            Step::Stop => {
                client.stop_instances().instance_ids(id).send().await.map_err(|e| sdk_error("StopInstances", e))?;
            }
            Step::Start => {
                client.start_instances().instance_ids(id).send().await.map_err(|e| sdk_error("StartInstances", e))?;
            }
            Step::ChangeType => {
                let value = AttributeValue::builder().value(wanted.unwrap_or_default()).build();
                client
                    .modify_instance_attribute()
                    .instance_id(id)
                    .instance_type(value)
                    .send()
                    .await
                    .map_err(|e| sdk_error("ModifyInstanceAttribute", e))?;
            }
            Step::Wait => tokio::time::sleep(self.poll).await,
            Step::Done => {}
        }
        Ok(step)
    }
}

fn state(instance: &Instance) -> &str {
    instance.state().and_then(|s| s.name()).map_or("unknown", InstanceStateName::as_str)
}

fn instance_type(instance: &Instance) -> &str {
    instance.instance_type().map_or("", |t| t.as_str())
}

fn sdk_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    call: &str,
    e: aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
) -> anyhow::Error {
    match e.code() {
        Some(code) => anyhow::anyhow!("EC2 {call}: {code}: {}", e.message().unwrap_or("")),
        None => anyhow::Error::new(e).context(format!("EC2 {call}")),
    }
}

#[async_trait::async_trait]
impl Executor for Ec2Executor {
    fn handles(&self, kind: ActionKind) -> bool {
        matches!(kind, ActionKind::StopEc2Instance | ActionKind::StartEc2Instance | ActionKind::ResizeEc2Instance)
    }

    fn plan(&self, action: &ActionRow) -> String {
        match (action.kind, wanted_type(action)) {
            (ActionKind::ResizeEc2Instance, Ok(Some(t))) => format!(
                "resize EC2 instance {} to {t} in {}: stop, wait until stopped, change the type, start, wait until running",
                action.target, self.settings.region
            ),
            (ActionKind::StartEc2Instance, _) => format!("start EC2 instance {} in {}", action.target, self.settings.region),
            _ => format!("stop EC2 instance {} in {}", action.target, self.settings.region),
        }
    }

    fn call_timeout(&self) -> Duration {
        // A stop and a start each take minutes on real EC2.
        Duration::from_secs(20 * 60)
    }

    async fn target_tags(&self, action: &ActionRow) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let instance = self.describe(&self.client().await?, &action.target).await?;
        let tags =
            instance.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())));
        Ok(Some(tags.collect()))
    }

    async fn rehearse(&self, action: &ActionRow) -> anyhow::Result<String> {
        let client = self.client().await?;
        let id = action.target.as_str();
        let result = match action.kind {
            ActionKind::StartEc2Instance => client
                .start_instances()
                .instance_ids(id)
                .dry_run(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("StartInstances", e)),
            _ => client
                .stop_instances()
                .instance_ids(id)
                .dry_run(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk_error("StopInstances", e)),
        };
        match result {
            // EC2's answer to a dry run that would have succeeded.
            Err(e) if e.to_string().contains("DryRunOperation") => {
                Ok(format!("EC2 dry run: {} would succeed", self.plan(action)))
            }
            Err(e) => Err(e),
            Ok(()) => anyhow::bail!("EC2 acted on a dry run"),
        }
    }

    async fn execute(&self, action: &ActionRow, _idempotency_key: &str) -> anyhow::Result<()> {
        let wanted = wanted_type(action)?;
        let client = self.client().await?;
        // Each step re-reads the instance, so this loop is its own resumption.
        for _ in 0..10_000 {
            match self.step(&client, action, wanted.as_deref()).await? {
                Step::Done => return Ok(()),
                Step::Wait => {}
                _ => tokio::time::sleep(self.poll.min(Duration::from_millis(200))).await,
            }
        }
        anyhow::bail!("{} did not settle", action.target)
    }

    async fn verify(&self, action: &ActionRow) -> anyhow::Result<Verification> {
        let wanted = wanted_type(action)?;
        let instance = self.describe(&self.client().await?, &action.target).await?;
        Ok(match next_step(action.kind, state(&instance), instance_type(&instance), wanted.as_deref()) {
            Step::Done => Verification::Done,
            _ => Verification::Pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_goes_stop_change_start_from_wherever_it_stands() {
        let w = Some("t3.small");
        assert_eq!(next_step(ActionKind::ResizeEc2Instance, "running", "m5.4xlarge", w), Step::Stop);
        assert_eq!(next_step(ActionKind::ResizeEc2Instance, "stopping", "m5.4xlarge", w), Step::Wait);
        assert_eq!(next_step(ActionKind::ResizeEc2Instance, "stopped", "m5.4xlarge", w), Step::ChangeType);
        assert_eq!(next_step(ActionKind::ResizeEc2Instance, "stopped", "t3.small", w), Step::Start);
        assert_eq!(next_step(ActionKind::ResizeEc2Instance, "pending", "t3.small", w), Step::Wait);
        assert_eq!(next_step(ActionKind::ResizeEc2Instance, "running", "t3.small", w), Step::Done);
    }

    #[test]
    fn stop_and_start_are_done_once_there() {
        assert_eq!(next_step(ActionKind::StopEc2Instance, "running", "t3.small", None), Step::Stop);
        assert_eq!(next_step(ActionKind::StopEc2Instance, "stopping", "t3.small", None), Step::Wait);
        assert_eq!(next_step(ActionKind::StopEc2Instance, "stopped", "t3.small", None), Step::Done);
        assert_eq!(next_step(ActionKind::StartEc2Instance, "stopped", "t3.small", None), Step::Start);
        assert_eq!(next_step(ActionKind::StartEc2Instance, "running", "t3.small", None), Step::Done);
    }
}
