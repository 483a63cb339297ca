"""Drives app.py in-process (FastAPI's TestClient, no web server needed) against the
EntDB server at ENTDB_URL, and prints what each request answered. `tests/python/`
runs it against a real `entdb serve`."""

from __future__ import annotations

import json

from app import app
from fastapi.testclient import TestClient


def main() -> None:
    with TestClient(app) as http:
        team = http.post("/teams", json={"name": "Web", "slug": "web"}).json()
        again = http.post("/teams", json={"name": "Web again", "slug": "web"}).json()
        print(json.dumps({"team_created": team["created"], "same_team": again["id"] == team["id"]}))
        project = http.post("/teams/web/projects", json={"key": "WEB", "name": "Website"}).json()
        taken = http.post("/teams/web/projects", json={"key": "WEB", "name": "Again"})
        print(json.dumps({"duplicate_project": [taken.status_code, taken.json()["detail"]]}))
        for title in ["Design", "Build", "Ship"]:
            http.post(f"/projects/{project['id']}/tasks", json={"title": title, "labels": [title.lower()]})
        tasks = http.get(f"/projects/{project['id']}/tasks").json()
        print(json.dumps({"tasks": [[task["key"], task["title"], task["status"]] for task in tasks]}))
        done = http.post(f"/tasks/{tasks[0]['id']}/done")
        twice = http.post(f"/tasks/{tasks[0]['id']}/done")
        todo = http.get(f"/projects/{project['id']}/tasks", params={"status": "todo"}).json()
        print(json.dumps({"done": done.json(), "twice": [twice.status_code, twice.json()["detail"]]}))
        print(json.dumps({"todo": [task["key"] for task in todo]}))
        hits = http.get("/search", params={"q": "ship OR website"}).json()
        bad = http.get("/search", params={"q": '"ship'})
        found = sorted([hit["type"], hit["label"], hit["snippets"]] for hit in hits)
        print(json.dumps({"search": found, "bad_query": [bad.status_code, bad.json()["detail"]]}))


if __name__ == "__main__":
    main()
