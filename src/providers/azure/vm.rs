//! Azure VMs: deallocate through ARM (compute stops billing only once deallocated, not
//! merely stopped) and verify the power state from the instance view. ARM has no dry-run for
//! this call, so a dry run records the plan only.

use crate::approval::store::ActionRow;
use crate::clouds::Vault;
use crate::domain::optimizer::ActionKind;
use crate::execute::{Executor, Verification};
use crate::providers::azure::connection::{Arm, AzureSettings};
use std::collections::BTreeMap;

const API_VERSION: &str = "2024-07-01";

pub struct AzureVmExecutor {
    settings: AzureSettings,
    vault: Vault,
}

impl AzureVmExecutor {
    pub fn new(settings: AzureSettings, vault: Vault) -> Self {
        AzureVmExecutor { settings, vault }
    }

    async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let arm = Arm::connect(&self.settings, &self.vault).await?;
        arm.call(azure_core::Method::Get, &format!("{path}?api-version={API_VERSION}"), None).await
    }
}

/// A VM's resource id, checked so nothing else can be posted to.
fn vm_path(target: &str) -> anyhow::Result<String> {
    let lower = target.to_ascii_lowercase();
    anyhow::ensure!(
        lower.starts_with("/subscriptions/") && lower.contains("/providers/microsoft.compute/virtualmachines/"),
        "{target} is not an Azure VM resource id"
    );
    Ok(target.trim_end_matches('/').to_string())
}

/// The `PowerState/...` code of an instance view.
pub fn power_state(view: &serde_json::Value) -> Option<&str> {
    view["statuses"].as_array()?.iter().filter_map(|s| s["code"].as_str()).find_map(|c| c.strip_prefix("PowerState/"))
}

#[async_trait::async_trait]
impl Executor for AzureVmExecutor {
    fn handles(&self, kind: ActionKind) -> bool {
        kind == ActionKind::DeallocateAzureVm
    }

    fn plan(&self, action: &ActionRow) -> String {
        format!("deallocate Azure VM {} (POST .../deallocate), then check its power state", action.target)
    }

    /// Deallocation takes minutes on real Azure; the power state follows.
    fn verify_patience(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }

    async fn target_tags(&self, action: &ActionRow) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        let vm = self.get(&vm_path(&action.target)?).await?;
        let tags = vm["tags"]
            .as_object()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
        Ok(Some(tags.unwrap_or_default()))
    }

    async fn execute(&self, action: &ActionRow, _idempotency_key: &str) -> anyhow::Result<()> {
        // Deallocating a deallocated VM is a no-op, so a repeat is harmless.
        let arm = Arm::connect(&self.settings, &self.vault).await?;
        let path = format!("{}/deallocate?api-version={API_VERSION}", vm_path(&action.target)?);
        arm.call(azure_core::Method::Post, &path, None).await?;
        Ok(())
    }

    async fn verify(&self, action: &ActionRow) -> anyhow::Result<Verification> {
        let view = self.get(&format!("{}/instanceView", vm_path(&action.target)?)).await?;
        Ok(match power_state(&view) {
            Some("deallocated") => Verification::Done,
            _ => Verification::Pending,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_power_state_and_checks_the_id() {
        let view = serde_json::json!({"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/deallocated"}]});
        assert_eq!(super::power_state(&view), Some("deallocated"));
        assert!(
            super::vm_path("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm").is_ok()
        );
        assert!(super::vm_path("/subscriptions/s/resourceGroups/rg").is_err());
    }
}
