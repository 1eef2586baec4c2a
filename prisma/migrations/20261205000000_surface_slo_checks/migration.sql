-- A surface's objectives must leave an error budget: an availability objective of 1 (or 0, or NaN)
-- made burn rates undefined, and the On-call page answered 500 for every surface (break test; the
-- page now degrades that surface's card alone, server/oncall/service.ts). Nothing in the console
-- sets these columns; SQL could. NOT VALID: rows already stored are not checked (no migration
-- fails on them, and the page still guards them); every insert and update from now on is.
ALTER TABLE "surfaces" ADD CONSTRAINT "surfaces_slo_availability_range" CHECK ("slo_availability" > 0 AND "slo_availability" < 1) NOT VALID;
ALTER TABLE "surfaces" ADD CONSTRAINT "surfaces_slo_latency_p99_ms_positive" CHECK ("slo_latency_p99_ms" > 0) NOT VALID;
