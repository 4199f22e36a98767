"""The Celery application, built from settings; `celery -A workers.celery_app` finds `app`."""
from __future__ import annotations

from celery import Celery

from config.celery import celery_config
from config.settings import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("trainq", set_as_current=False)
    app.config_from_object(celery_config(settings))
    app.trainq_settings = settings
    from workers import host_agent
    from workers.tasks import register_tasks

    register_tasks(app)
    host_agent.install(app)
    return app


app = make_celery(Settings.from_env())  # building a Celery app connects to nothing
