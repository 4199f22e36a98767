"""The HTTP API: one package per resource, registered from MODULES."""
from app.api import auth, health, jobs

#: Every resource package; each exposes `blp`.
MODULES = (health, auth, jobs)
