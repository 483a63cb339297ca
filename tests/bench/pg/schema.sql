-- The PostgreSQL side of `npm run bench:pg`: the tracker example's User, Team and
-- MemberOf as plain tables, with the same indexes the schema declares, and the same data
-- as `loadgen load` writes to EntDB: 2,200 users joined one second apart from
-- 2026-01-01, 200 teams, and users 1..200 each a member of 10 teams (every team has 10
-- members): 2,400 rows of nodes, 2,000 of edges.
DROP TABLE IF EXISTS member_of, users, teams;
DROP SEQUENCE IF EXISTS bench_seq;

CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  display_name text NOT NULL,
  handle text NOT NULL UNIQUE,
  time_zone text NOT NULL DEFAULT 'UTC',
  avatar bytea,
  joined_at timestamptz NOT NULL,
  active boolean NOT NULL DEFAULT true,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_joined_at ON users (joined_at);
CREATE INDEX users_active ON users (active);

CREATE TABLE teams (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  slug text NOT NULL UNIQUE,
  description text,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE member_of (
  from_id bigint NOT NULL REFERENCES users,
  to_id bigint NOT NULL REFERENCES teams,
  role integer NOT NULL DEFAULT 1,
  since timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (from_id, to_id)
);
CREATE INDEX member_of_to ON member_of (to_id, from_id);

-- Names of the users the benchmark creates.
CREATE SEQUENCE bench_seq;

INSERT INTO users (email, display_name, handle, joined_at)
SELECT 'user-' || i || '@example.com', 'User ' || i, 'user' || i,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => i)
FROM generate_series(0, 2199) AS i;

INSERT INTO teams (name, slug)
SELECT 'Team ' || i, 'team-' || i FROM generate_series(0, 199) AS i;

INSERT INTO member_of (from_id, to_id, since)
SELECT u + 1, (u + k * 20) % 200 + 1, timestamptz '2026-01-01 00:00:00+00'
FROM generate_series(0, 199) AS u, generate_series(0, 9) AS k;

VACUUM ANALYZE users;
VACUUM ANALYZE teams;
VACUUM ANALYZE member_of;
