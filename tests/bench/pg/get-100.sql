-- 100 nodes by id (random, as EntDB GetNodes of 100 random ids)
SELECT * FROM users
WHERE id = ANY (ARRAY(SELECT 1 + floor(random() * 2200)::bigint FROM generate_series(1, 100)));
