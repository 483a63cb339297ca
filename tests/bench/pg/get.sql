-- get one node by id
\set id random(1, 2200)
SELECT * FROM users WHERE id = :id;
