"""The live dashboard under /ui/: jobs, a job's curves and log, the cluster (issue 11).

`blueprint.register_ui(app)` mounts it; `session` is the cookie session the API's security
hooks also read."""
