-- the 10 edges to a team
\set t random(1, 200)
SELECT * FROM member_of WHERE to_id = :t ORDER BY from_id LIMIT 50;
