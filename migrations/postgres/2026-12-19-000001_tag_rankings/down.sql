DO $$
BEGIN
    EXECUTE 'DROP TABLE tag_late_writes';
    EXECUTE 'DROP TABLE tag_ranking_marks';
    EXECUTE 'DROP TABLE tag_rankings';
END
$$;
