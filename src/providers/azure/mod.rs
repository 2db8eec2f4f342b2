//! Azure: Cost Management on a schedule, and the VM executor (deallocate).

pub mod connection;
pub mod cost_management;
pub mod vm;

use super::{field, Connection, Provider, Wiring};
use crate::providers::azure::cost_management::AzureCostManagement;
use crate::providers::azure::vm::AzureVmExecutor;
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
