import acme_tracker as t

t.TaskCreate(project=t.ProjectId("p"), number=1, title="x", status=t.Priority.HIGH)  # expect: Argument "status" to "TaskCreate" has incompatible type "Priority"; expected "TaskStatus | None"
