//! The cost ledger: owns `cost_records` and `llm_usage`. Writers (ingestion, imports, the
//! push API) go through [`store`]; readers (the API, later the detective) through [`query`].

pub mod query;
pub mod rows;
pub mod store;

pub use store::{
    delete_superseded, delete_unreported, upsert_costs, upsert_llm_usage, without_covered, Reread, Supersede,
    WriteSummary,
};
