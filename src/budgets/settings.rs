//! `[[budgets]]` in config.toml, for teams that keep their budgets in Git: the same fields as
//! the API's body (`amount` may also be a whole number here), validated at load naming
//! `budgets[N].field`. Start-up makes the config-managed budgets exactly these, by name
//! (`store::sync_config`); the API and dashboard cannot change them.

use crate::domain::budget::spec::BudgetSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BudgetsConfig(pub Vec<Value>);

impl BudgetsConfig {
    /// The budgets as definitions; the first refusal names its key.
    pub fn specs(&self) -> Result<Vec<BudgetSpec>, (String, String)> {
        let mut specs: Vec<BudgetSpec> = Vec::new();
        for (i, entry) in self.0.iter().enumerate() {
            let mut entry = entry.clone();
            // TOML users write `amount = 25000`; a whole number is exact, so it is taken.
            if let Some(n) = entry.get("amount").and_then(Value::as_u64) {
                entry["amount"] = Value::String(n.to_string());
            }
            let spec = BudgetSpec::parse(&entry).map_err(|e| (format!("budgets[{i}].{}", e.field), e.message))?;
            if specs.iter().any(|s| s.name == spec.name) {
                return Err((format!("budgets[{i}].name"), format!("'{}' is listed twice", spec.name)));
            }
            specs.push(spec);
        }
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_parse_and_a_bad_one_is_named_by_its_place() {
        let ok = BudgetsConfig(vec![json!({"name": "all", "amount": 25000, "currency": "USD"})]);
        assert_eq!(ok.specs().unwrap()[0].amount.units(), 25_000 * 100_000_000_000);
        let bad = BudgetsConfig(vec![
            json!({"name": "all", "amount": "1", "currency": "USD"}),
            json!({"name": "x", "amount": "1", "currency": "USD", "thresholds": [{"percent": 80, "on": "never"}]}),
        ]);
        assert_eq!(bad.specs().unwrap_err().0, "budgets[1].thresholds[0].on");
        let twice = BudgetsConfig(vec![json!({"name": "a", "amount": "1", "currency": "USD"}); 2]);
        assert_eq!(twice.specs().unwrap_err().0, "budgets[1].name");
    }
}
