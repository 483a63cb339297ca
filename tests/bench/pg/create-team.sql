-- create one team (the mixed rows' writer of another type than the users read)
INSERT INTO teams (name, slug)
SELECT 'Bench team ' || n, 'bench-team-' || n FROM nextval('bench_seq') AS n;
