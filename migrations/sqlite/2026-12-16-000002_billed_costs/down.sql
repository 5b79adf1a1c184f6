DROP TABLE billed_costs;
