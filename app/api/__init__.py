"""The HTTP API: one package per resource, registered from MODULES."""
from app.api import (auth, batch, datasets, deliveries, health, jobs, me, run_history, runs,
                     train_job, users, workers, workspaces)
from app.api import base_models, models  # seed 002

#: Every resource package; each exposes `blp`.
MODULES = (health, auth, jobs, batch, deliveries, runs, me, users, workspaces, datasets, workers,
           run_history, train_job, base_models, models)
