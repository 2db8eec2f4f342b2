//! AWS: Cost Explorer on a schedule, and the EC2 executor (stop, start, resize).

use super::{field, Connection, Provider, Wiring};
use crate::execute::ec2::Ec2Executor;
use crate::ingest::providers::aws::AwsCostExplorer;
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
