//! The detective's maths: baselines, the open/resolve decision, floors, severity and root
//! causes. Pure: the `detect` module feeds it points from the ledger and persists the result.

pub mod alternatives;
pub mod decision;
pub mod drift;
pub mod incident;
pub mod lifecycle;
pub mod model;
mod params;
pub mod partial;
pub mod recurring;
pub mod root_cause;
pub mod same_incident;
pub mod series;
mod tracker;
