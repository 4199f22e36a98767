"""trainq workers: GPU-pinned Celery slots that run training scripts and stream their events."""
