-- `GET /api/movies?title=`, newest first, fast whether the pattern is common or rare, whatever
-- plan the server caches (inventory::repo::search calls it).
--
-- Read the CTEs in order: `recent` walks the primary key down from the cursor for 1,000 rows
-- and `hits` keeps their matches: a common pattern fills the page there. Only when it does not
-- (and `recent` did not reach the end of the table) does `older` run, once (the one-time
-- filters skip it otherwise). `id + 0` hides `id` from the primary key there, so no plan can
-- walk the whole key testing every row for a rare pattern, and `enable_seqscan = off`, set for
-- this function alone, leaves the trigram index as its way in: a generic plan cannot see how
-- selective the pattern is, and statistics lag behind a burst of inserts, so the planner's own
-- choice flips between the index and a sequential scan (measured on 30,000 and 100,000 rows).
-- `ESCAPE '\'` matches inventory::domain::escape_like. Expand-only: nothing reads less after it.
-- The trigram index without a pending list: with GIN's fast update, inserts queue in a list that
-- every search reads linearly until a vacuum merges it, so a burst of inserts slows every search
-- (https://www.postgresql.org/docs/current/gin-implementation.html#GIN-FAST-UPDATE). Reads
-- outnumber writes in a catalogue: each insert updates the index itself.
ALTER INDEX movies_title_trgm SET (fastupdate = off);

CREATE FUNCTION search_movies(pattern text, before bigint, wanted bigint)
RETURNS TABLE (id bigint, title text, description text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH recent AS (
        SELECT m.id, m.title, m.description FROM movies m
        WHERE m.id < before ORDER BY m.id DESC LIMIT 1000
    ), hits AS (
        SELECT r.id, r.title, r.description FROM recent r
        WHERE r.title ILIKE pattern ESCAPE '\' ORDER BY r.id DESC LIMIT wanted
    ), older AS (
        SELECT m.id, m.title, m.description FROM movies m
        WHERE m.title ILIKE pattern ESCAPE '\'
          AND m.id + 0 < (SELECT min(r.id) FROM recent r)
          AND (SELECT count(*) FROM recent) = 1000
          AND (SELECT count(*) FROM hits) < wanted
        ORDER BY m.id + 0 DESC LIMIT wanted
    )
    SELECT h.id, h.title, h.description FROM hits h
    UNION ALL SELECT o.id, o.title, o.description FROM older o
    ORDER BY 1 DESC LIMIT wanted;
END
$$;
