"""trainq configuration: settings from TRAINQ_* environment variables, pools, queues, Celery."""
