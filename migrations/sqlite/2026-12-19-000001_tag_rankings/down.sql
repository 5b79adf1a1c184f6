DROP TABLE tag_late_writes;
DROP TABLE tag_ranking_marks;
DROP TABLE tag_rankings;
