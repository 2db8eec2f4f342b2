//! The simulated clouds: a seeded company's costs as a source, and one executor for every
//! action kind on its resources (the executor asks real executors first; see `execute`).

use super::{Connection, Provider, Wiring};
use crate::execute::simulated::SimulatedExecutor;
use crate::ingest::providers::Simulator;
use std::sync::Arc;
use std::time::Duration;

pub const PROVIDER: Provider = Provider {
    name: "simulated",
    title: "Simulated clouds",
    credentials: &[],
    validate: |s| s.simulated.validate(),
    connect,
};

fn connect(w: &Wiring<'_>) -> Connection {
    let sim = &w.settings.simulated;
    if !sim.enabled {
        return Connection::default();
    }
    let simulator = Arc::new(Simulator::new(sim.clone(), w.db.clone()));
    let latency = Duration::from_millis(sim.api_latency_ms);
    Connection::default()
        .source(simulator.clone(), &sim.schedule)
        .executor(Arc::new(SimulatedExecutor::new(simulator).with_latency(latency)))
}
