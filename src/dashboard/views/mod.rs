//! Pure views: data in, `Markup` out. No database, clock or request in here, so every page
//! renders the same way in a snapshot test as in the server.

pub mod actions;
pub mod anomalies;
pub mod audit;
pub mod budgets;
pub mod chart;
pub mod components;
pub mod layout;
pub mod llm;
pub mod login;
pub mod notifications;
pub mod overview;
pub mod settings;
#[cfg(test)]
mod tests;
