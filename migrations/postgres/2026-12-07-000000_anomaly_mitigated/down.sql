UPDATE anomaly_events SET kind = 'updated', detail = 'mitigated: ' || coalesce(detail, '')
    WHERE kind = 'mitigated';
ALTER TABLE anomaly_events DROP CONSTRAINT anomaly_events_kind_check;
ALTER TABLE anomaly_events ADD CONSTRAINT anomaly_events_kind_check
    CHECK (kind IN ('opened', 'updated', 'resolved', 'feedback'));
