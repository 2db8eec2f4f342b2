//! Executors for the simulated clouds: cancelling a job, stopping an instance, deallocating a
//! VM or disabling a key all stop the simulated resource, which lowers its cost from then on.

use crate::approval::store::ActionRow;
use crate::domain::optimizer::ActionKind;
use crate::execute::{Executor, Verification};
use crate::providers::simulated::resources::CloudResources;
use chrono::Utc;
use std::sync::Arc;

pub struct SimulatedExecutor {
    resources: Arc<dyn CloudResources>,
    latency: std::time::Duration,
}

impl SimulatedExecutor {
    pub fn new(resources: Arc<dyn CloudResources>) -> Self {
        SimulatedExecutor { resources, latency: std::time::Duration::ZERO }
    }

    /// Answers each call this long after its effect has landed, like a slow cloud API.
    pub fn with_latency(mut self, latency: std::time::Duration) -> Self {
        self.latency = latency;
        self
    }
}

/// What the simulated clouds can do: the undo and resize actions need a real cloud.
const KINDS: [ActionKind; 4] = [
    ActionKind::CancelBigqueryJob,
    ActionKind::StopEc2Instance,
    ActionKind::DeallocateAzureVm,
    ActionKind::DisableLlmKey,
];

#[async_trait::async_trait]
impl Executor for SimulatedExecutor {
    fn handles(&self, kind: ActionKind) -> bool {
        KINDS.contains(&kind)
    }

    fn simulated(&self) -> bool {
        true
    }

    fn plan(&self, action: &ActionRow) -> String {
        format!("{} {} in the simulated clouds", action.kind.as_str().replace('_', " "), action.target)
    }

    async fn execute(&self, action: &ActionRow, _idempotency_key: &str) -> anyhow::Result<()> {
        // Stopping twice is harmless, so the action's id is idempotency enough here.
        self.resources.stop(&action.target, crate::execute::ACTOR, Utc::now()).await?;
        tokio::time::sleep(self.latency).await;
        Ok(())
    }

    async fn verify(&self, action: &ActionRow) -> anyhow::Result<Verification> {
        let resources = self.resources.list(Utc::now()).await?;
        match resources.iter().find(|r| r.id == action.target) {
            Some(r) if !r.running => Ok(Verification::Done),
            Some(_) => Ok(Verification::Pending),
            None => anyhow::bail!("{} is not a simulated resource", action.target),
        }
    }
}
