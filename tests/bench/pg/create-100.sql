-- 100 nodes in one statement (as one EntDB plan of 100 creates)
INSERT INTO users (email, display_name, handle, joined_at)
SELECT 'bench-' || n || '@example.com', 'Bench ' || n, 'bench' || n, now()
FROM (SELECT nextval('bench_seq') AS n FROM generate_series(1, 100)) AS s;
