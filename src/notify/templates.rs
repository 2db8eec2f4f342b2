//! Message texts: the built-in templates (templates/notify/*.txt, compiled into the binary),
//! each replaceable by a file of the same name in the templates directory. They are
//! MiniJinja templates over the message payload (the documented webhook payload).

use crate::domain::notify::Event;
use serde_json::Value;
use std::path::Path;

pub(super) const BUILT_IN: [(Event, &str); 9] = [
    (Event::AnomalyOpened, include_str!("../../templates/notify/anomaly_opened.txt")),
    (Event::AnomalyEscalated, include_str!("../../templates/notify/anomaly_escalated.txt")),
    (Event::AnomalyResolved, include_str!("../../templates/notify/anomaly_resolved.txt")),
    (Event::AnomalyMitigated, include_str!("../../templates/notify/anomaly_mitigated.txt")),
    (Event::ActionPending, include_str!("../../templates/notify/action_pending.txt")),
    (Event::ActionApproved, include_str!("../../templates/notify/action_approved.txt")),
    (Event::ActionSucceeded, include_str!("../../templates/notify/action_succeeded.txt")),
    (Event::ActionFailed, include_str!("../../templates/notify/action_failed.txt")),
    (Event::BudgetThresholdCrossed, include_str!("../../templates/notify/budget_threshold_crossed.txt")),
];

pub struct Templates {
    env: minijinja::Environment<'static>,
}

impl Templates {
    /// The built-ins, with `<dir>/<event>.txt` in place of any that exists there. A template
    /// that does not compile is an error naming its file, so a typo stops start-up.
    pub fn load(dir: &Path) -> Result<Templates, String> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.add_filter("money", money);
        for (event, built_in) in BUILT_IN {
            let file = dir.join(format!("{event}.txt"));
            let source = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => built_in.to_string(),
                Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
            };
            env.add_template_owned(event.as_str().to_string(), source)
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        Ok(Templates { env })
    }

    /// The text of one message; a template that fails on this payload falls back to a plain
    /// line, so a bad override never stops a page from going out.
    pub fn render(&self, event: Event, payload: &Value) -> String {
        let rendered = self.env.get_template(event.as_str()).and_then(|t| t.render(template_value(payload)));
        match rendered {
            Ok(text) => text.trim().to_string(),
            Err(e) => {
                tracing::warn!(%event, error = %e, "notification template failed; sending a plain message");
                let subject = payload["anomaly"]["label"]
                    .as_str()
                    .or(payload["action"]["target"].as_str())
                    .or(payload["budget"]["name"].as_str());
                format!("{event}: {}", subject.unwrap_or("(unknown)"))
            }
        }
    }
}

/// `{{ anomaly.actual | money }}`: an exact amount from the payload ("4.1243545141") as
/// people read it ("4.12", "12,347.00"); anything that is not an amount stays as it is.
fn money(value: String) -> String {
    crate::domain::money::for_reading(&value).unwrap_or(value)
}

/// The payload as template values. (serde_json is built with arbitrary precision, which
/// would hand numbers to MiniJinja as opaque maps.)
fn template_value(v: &Value) -> minijinja::Value {
    match v {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Number(n) => n
            .as_i64()
            .map(minijinja::Value::from)
            .or_else(|| n.as_f64().map(minijinja::Value::from))
            .unwrap_or_else(|| minijinja::Value::from(n.to_string())),
        Value::String(s) => minijinja::Value::from(s.as_str()),
        Value::Array(items) => minijinja::Value::from(items.iter().map(template_value).collect::<Vec<_>>()),
        Value::Object(map) => minijinja::Value::from(
            map.iter().map(|(k, v)| (k.clone(), template_value(v))).collect::<std::collections::BTreeMap<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        json!({"event": "anomaly_opened", "severity": "high", "anomaly": {"label": "Google Cloud / BigQuery", "severity": "high",
            "actual": "412.50", "expected": "20.10", "projected_daily": "9417.60", "currency": "USD",
            "root_causes": [{"dimension": "resource", "value": "proj:US.job_7", "delta": "390.00", "share": 0.97}]}})
    }

    #[test]
    fn built_ins_render_the_payload() {
        let t = Templates::load(Path::new("/nonexistent")).unwrap();
        let text = t.render(Event::AnomalyOpened, &payload());
        assert!(text.contains("*HIGH cost anomaly*: Google Cloud / BigQuery"), "{text}");
        assert!(text.contains("9,417.60 USD a day over") && text.contains("`proj:US.job_7`"), "{text}");
        let exact = json!({"anomaly": {"label": "x", "severity": "high", "actual": "4.1243545141", "expected": "3.51786818562",
            "projected_daily": "3163.41118346927", "currency": "USD"}});
        let text = t.render(Event::AnomalyOpened, &exact);
        assert!(text.contains("4.12 USD against 3.52 expected") && text.contains("3,163.41 USD a day"), "{text}");
        let pending = json!({"action": {"kind": "cancel_bigquery_job", "target": "proj:US.job_7", "provider": "Google Cloud",
            "estimated_saving_per_hour": "390", "risk": "medium", "approvals_left": 1}});
        let text = t.render(Event::ActionPending, &pending);
        assert!(
            text.contains("cancel bigquery job `proj:US.job_7` (Google Cloud)") && text.contains("1 approval needed"),
            "{text}"
        );
        let notify_only = json!({"action": {"kind": "notify_only", "target": "", "estimated_saving_per_hour": "0"},
            "anomaly": {"label": "tag team=data", "severity": "high"}});
        let text = t.render(Event::ActionPending, &notify_only);
        assert_eq!(text, ":raised_hand: *Acknowledgement needed*: nothing to run for tag team=data (high); a person should look at it.");
        // What an action saved is said in its anomaly's currency.
        let done = json!({"action": {"kind": "cancel_bigquery_job", "target": "proj:US.job_7", "recovered": "11452.85539121904"},
            "anomaly": {"label": "Google Cloud / BigQuery", "currency": "EUR"}});
        let text = t.render(Event::ActionSucceeded, &done);
        assert!(text.ends_with("It saved 11,452.86 EUR so far."), "{text}");
    }

    #[test]
    fn a_file_in_the_directory_replaces_its_built_in_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("anomaly_opened.txt"), "Spend alert for {{ anomaly.label }}").unwrap();
        let t = Templates::load(dir.path()).unwrap();
        assert_eq!(t.render(Event::AnomalyOpened, &payload()), "Spend alert for Google Cloud / BigQuery");
        assert!(t.render(Event::AnomalyResolved, &payload()).contains("Resolved"));
        std::fs::write(dir.path().join("action_failed.txt"), "{% if %}").unwrap();
        let err = Templates::load(dir.path()).err().unwrap();
        assert!(err.contains("action_failed.txt"), "{err}");
    }
}
