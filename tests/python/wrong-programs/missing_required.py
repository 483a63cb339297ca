import acme_tracker as t

t.TaskCreate(number=1, title="x")  # expect: Missing named argument "project" for "TaskCreate"
