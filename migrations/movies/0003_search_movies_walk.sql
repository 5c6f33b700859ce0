-- `search_movies`, same signature and rows as 0002 (which stays as shipped): a cost that follows
-- the page. 0002 matched all 1,000 newest rows before it knew the page was full and planned its
-- statement again on most calls: 1.0-2.7 ms per search at 100,000 movies, 0.1 ms for a plain page.
--
-- Walk the primary key down from the cursor and stop when the page is full (a common pattern reads
-- about a page). A window that comes back short estimates how common the pattern is (`s`); then
-- walk a window twice as large or ask the trigram index for the rest, whichever reads fewer rows:
-- the index about `s` of the rows below (ids bound their count), each match costing about two
-- walked rows (2.7 against 1.3 us), the walk about rows still wanted / `s`. `id + 0` keeps the
-- index statement off the primary key and `enable_seqscan = off` leaves the index as its way in
-- (0002 says why). The plans are fixed by their shape, so the generic one is kept (custom plans
-- cost 0.1-0.3 ms of planning per statement), and a page never starts parallel workers. STABLE:
-- every statement reads the caller's snapshot. `\` is LIKE's default escape (escape_like).
CREATE OR REPLACE FUNCTION search_movies(pattern text, before bigint, wanted bigint)
RETURNS TABLE (id bigint, title text, description text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET max_parallel_workers_per_gather = 0
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    win bigint := greatest(2 * wanted, 200);
    walked bigint := 0;
    got bigint := 0;
    n bigint;
    low bigint := before;
    edge bigint;
    s float8;
BEGIN
    LOOP
        RETURN QUERY
            SELECT r.id, r.title, r.description
              FROM (SELECT m.id, m.title, m.description FROM movies m
                     WHERE m.id < low ORDER BY m.id DESC LIMIT win) r
             WHERE r.title ILIKE pattern
             ORDER BY r.id DESC LIMIT wanted - got;
        GET DIAGNOSTICS n = ROW_COUNT;
        got := got + n;
        EXIT WHEN got >= wanted;
        -- The window's last row; none when it reached the oldest movie.
        SELECT m.id INTO edge FROM movies m
         WHERE m.id < low ORDER BY m.id DESC OFFSET win - 1 LIMIT 1;
        EXIT WHEN edge IS NULL;
        walked := walked + win;
        low := edge;
        s := (got + 1)::float8 / (walked + 1);
        IF 2 * s * low <= least((wanted - got) / s, low) THEN
            RETURN QUERY
                SELECT m.id, m.title, m.description FROM movies m
                 WHERE m.title ILIKE pattern AND m.id + 0 < low
                 ORDER BY m.id + 0 DESC LIMIT wanted - got;
            EXIT;
        END IF;
        win := 2 * win;
    END LOOP;
END
$$;
