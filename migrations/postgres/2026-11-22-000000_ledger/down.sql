DROP TABLE sim_resource_stops;
DROP TABLE ingest_cursors;
DROP TABLE api_keys;
DROP TABLE llm_usage;
DROP TABLE cost_records;
