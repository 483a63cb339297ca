import acme_tracker as t

t.TeamCreate(name="x", slug="y", colour="red")  # expect: Unexpected keyword argument "colour" for "TeamCreate"
