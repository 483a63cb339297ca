-- node + edge, one atomic statement (as one EntDB plan)
\set team random(1, 200)
WITH u AS (
  INSERT INTO users (email, display_name, handle, joined_at)
  SELECT 'bench-' || n || '@example.com', 'Bench ' || n, 'bench' || n, now()
  FROM nextval('bench_seq') AS n
  RETURNING id
)
INSERT INTO member_of (from_id, to_id, since) SELECT id, :team, now() FROM u;
