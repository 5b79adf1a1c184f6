DROP INDEX tag_rollups_by_value;
