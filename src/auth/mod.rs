//! Who is calling: API keys now (users and sessions join later).
//!
//! Keys are 256-bit random tokens shown once; only their SHA-256 is stored, which is
//! safe for high-entropy secrets and lets each request find its key by index.

pub mod api_keys;
