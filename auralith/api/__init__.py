"""`auralith serve`: the HTTP API and the job dashboard (FastAPI), over the same `Client` the CLI uses.

    app = create_app(Client(broker, store), TokenBook.from_environment())

Routers per resource (`routers/jobs.py`, `routers/cluster.py`, `routers/dashboard.py`), bearer tokens with
roles (`auth.py`); the dashboard's pages are Jinja templates with a little vendored JavaScript (`static/`).
"""
