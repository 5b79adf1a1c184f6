DROP TABLE tag_rollups;
DROP TABLE event_rollups;
