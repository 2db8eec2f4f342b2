//! Actions and their approval flow over the database: each command is one transaction that
//! applies the pure state machine (`domain::approval`) with a conditional update, records the
//! transition and appends to the audit chain; effects run after commit.

mod settings;
pub mod store;

pub use settings::ApprovalSettings;
