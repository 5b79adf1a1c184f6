-- The rows of one tag key in the order of its values: a report by tag (`by_tag`) adds
-- each value up as the index hands its rows over, instead of sorting every row of the
-- range first. The sums are in the index so the table is not read.
CREATE INDEX tag_rollups_by_value ON tag_rollups (workspace_id, key, value, slot,
    cost_nanos, calls);
