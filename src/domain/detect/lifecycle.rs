//! What happened to an anomaly, as the detective tells the rest of the process (the bus's
//! `AnomalyChanged`): the optimizer proposes on an opening, revises on a re-measure, and
//! withdraws on a resolution.

/// What happened to which anomaly, for the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Opened,
    /// Re-measured: it grew, or its root causes changed (no timeline entry).
    Updated,
    /// Re-measured into a higher severity.
    Escalated,
    Resolved,
}
