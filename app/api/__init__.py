"""The HTTP API: one package per resource, registered from MODULES."""
from app.api import auth, deliveries, health, jobs, me, users, workers, workspaces

#: Every resource package; each exposes `blp`.
MODULES = (health, auth, jobs, deliveries, me, users, workspaces, workers)
