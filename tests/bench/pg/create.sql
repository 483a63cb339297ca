-- create one node
INSERT INTO users (email, display_name, handle, joined_at)
SELECT 'bench-' || n || '@example.com', 'Bench ' || n, 'bench' || n, now()
FROM nextval('bench_seq') AS n;
