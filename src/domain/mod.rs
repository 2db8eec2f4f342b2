//! The pure core: value types, validation and rules. No I/O, no clock, no randomness:
//! `now` and configuration are arguments. Only std, chrono, serde(_json), thiserror, hex,
//! sha2, hmac and utoipa's schema derives here (CI greps this folder to keep it that way).

pub mod approval;
pub mod audit;
pub mod budget;
pub mod cost_query;
pub mod detect;
pub mod focus;
pub mod ids;
pub mod llm;
pub mod llm_prices;
pub mod money;
pub mod notify;
pub mod optimizer;
pub mod record_key;
pub mod redact;
pub mod role;
pub mod time;
