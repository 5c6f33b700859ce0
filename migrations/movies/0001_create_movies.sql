-- The inventory: one row per movie. Length limits mirror the API's validation so the
-- database refuses what the API would refuse, whoever writes to it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE movies (
    id          bigserial   PRIMARY KEY,
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- `?title=` is a case-insensitive substring match (ILIKE '%x%'); a trigram index serves it
-- without a sequential scan.
CREATE INDEX movies_title_trgm ON movies USING gin (title gin_trgm_ops);
