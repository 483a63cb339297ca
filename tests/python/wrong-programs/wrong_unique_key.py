import acme_tracker as t


def create(db: t.Client) -> None:
    db.team.create(t.TeamCreate(name="x", slug="y"), if_absent_on=["name"])  # expect: List item 0 has incompatible type "Literal['name']"; expected "Literal['slug']"
