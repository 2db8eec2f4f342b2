-- An anomaly's timeline records its mitigation (an action on it was executed and verified)
-- as an entry of its own, which the notifier announces and PagerDuty resolves on.
ALTER TABLE anomaly_events DROP CONSTRAINT anomaly_events_kind_check;
ALTER TABLE anomaly_events ADD CONSTRAINT anomaly_events_kind_check
    CHECK (kind IN ('opened', 'updated', 'mitigated', 'resolved', 'feedback'));
-- Past mitigations were "updated" entries whose detail began "mitigated: ".
UPDATE anomaly_events SET kind = 'mitigated', detail = substr(detail, 12)
    WHERE kind = 'updated' AND detail LIKE 'mitigated: %';
