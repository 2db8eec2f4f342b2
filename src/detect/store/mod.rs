//! The anomalies table, its timeline and suppressions: reading, and applying a plan.
//!
//! Split by concern: the row and its queries (`rows`), applying the detective's plan
//! (`detected`), the timeline (`timeline`), each series' state and chart history
//! (`series_state`), anomalies filed by hand (`manual`) and verdicts (`feedback`). Everything
//! is re-exported here, so callers say `store::get`, `store::apply`.

mod detected;
mod feedback;
mod manual;
pub(crate) mod rows;
mod series_state;
mod timeline;

pub use detected::{apply, mark_mitigated, stored_for, suppressions_for, SeriesFacts};
pub use feedback::{add_feedback, Feedback, CLOSING_VERDICTS};
pub use manual::{insert_manual, resolve_manual, Manual, ResolveRefusal};
pub use rows::{
    also_affected, events, get, get_many, list, open_by_severity, AnomalyEvent, AnomalyRow, AnomalyState, ListFilter,
};
pub use series_state::{
    histories, history, list_series, outlooks, save_series_states, sightings, Outlook, SeriesRow, SeriesState,
};
pub use timeline::record_event;

use crate::domain::money::Total;
use chrono::{DateTime, NaiveDateTime};

pub use crate::domain::detect::lifecycle::Lifecycle;

fn naive(epoch: i64) -> NaiveDateTime {
    DateTime::from_timestamp(epoch, 0).unwrap_or_default().naive_utc()
}

fn saturate(t: Total) -> i64 {
    i64::try_from(t.units()).unwrap_or(if t.units() < 0 { i64::MIN } else { i64::MAX })
}
