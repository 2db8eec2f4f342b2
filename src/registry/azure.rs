//! Azure: Cost Management on a schedule, and the VM executor (deallocate).

use super::{field, Connection, Provider, Wiring};
use crate::execute::azure_vm::AzureVmExecutor;
use crate::ingest::providers::azure::AzureCostManagement;
use std::sync::Arc;

pub const PROVIDER: Provider = Provider {
    name: "azure",
    title: "Azure (Cost Management, VMs)",
    credentials: &[
        field("tenant_id", "Tenant id"),
        field("client_id", "Client id"),
        field("client_secret", "Client secret"),
    ],
    validate: |s| s.azure.validate(),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let azure = &w.settings.azure;
    if !azure.enabled {
        return Connection::default();
    }
    Connection::default()
        .source(Arc::new(AzureCostManagement::new(azure.clone(), w.vault.clone())), &azure.schedule)
        .executor(Arc::new(AzureVmExecutor::new(azure.clone(), w.vault.clone())))
}
