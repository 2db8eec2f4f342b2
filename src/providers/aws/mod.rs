//! AWS: Cost Explorer on a schedule, and the EC2 executor (stop, start, resize).

pub mod connection;
pub mod cost_explorer;
pub mod ec2;

use super::{field, Connection, Provider, Wiring};
use crate::providers::aws::cost_explorer::AwsCostExplorer;
use crate::providers::aws::ec2::Ec2Executor;
use std::sync::Arc;

pub const PROVIDER: Provider = Provider {
    name: "aws",
    title: "AWS (Cost Explorer, EC2)",
    credentials: &[field("access_key_id", "Access key id"), field("secret_access_key", "Secret access key")],
    validate: |s| s.aws.validate(),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let aws = &w.settings.aws;
    if !aws.enabled {
        return Connection::default();
    }
    Connection::default()
        .source(Arc::new(AwsCostExplorer::new(aws.clone(), w.vault.clone())), &aws.schedule)
        .executor(Arc::new(Ec2Executor::new(aws.clone(), w.vault.clone())))
}
