//! The cost ledger: owns `cost_records` and `llm_usage`. Writers (ingestion, imports, the
//! push API) go through [`store`]; readers (the API, later the detective) through [`query`].

pub mod query;
mod replace;
pub mod rows;
pub mod store;

pub use replace::{delete_superseded, delete_unreported, without_covered, Reread, Supersede};
pub use store::{upsert_costs, upsert_llm_usage, WriteSummary};
