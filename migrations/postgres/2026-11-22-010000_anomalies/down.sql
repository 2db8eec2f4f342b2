DROP TABLE detect_series;
DROP TABLE anomaly_suppressions;
DROP TABLE anomaly_events;
DROP TABLE anomalies;
