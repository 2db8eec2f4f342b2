ALTER TABLE detect_series DROP COLUMN forecast_profile;
DROP TABLE budget_crossings;
DROP TABLE budgets;
