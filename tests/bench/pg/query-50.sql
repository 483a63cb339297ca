-- 50 rows through the joined_at index, from a random start
\set r random(0, 2149)
SELECT * FROM users
WHERE joined_at >= timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => :r)
ORDER BY joined_at, id LIMIT 50;
