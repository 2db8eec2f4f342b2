//! The cost ledger: owns `cost_records` and `llm_usage`. Writers (ingestion, imports, the
//! push API) go through [`store`] and end their transaction with [`rollups::refresh`];
//! readers (the API, the dashboard, the detective) through [`query`], which reads the
//! rollups wherever they answer the question and the rows only to drill down.

pub mod query;
mod replace;
pub mod rollups;
pub mod rows;
pub mod store;

pub use replace::{delete_superseded, delete_unreported, without_covered, Reread, Supersede};
pub use store::{upsert_costs, upsert_llm_usage, WriteSummary};
