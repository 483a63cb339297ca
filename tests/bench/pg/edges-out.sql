-- the 10 edges from a user
\set u random(1, 200)
SELECT * FROM member_of WHERE from_id = :u ORDER BY to_id LIMIT 50;
