DROP TABLE cost_tag_hourly;
DROP TABLE cost_daily;
DROP TABLE cost_hourly;
