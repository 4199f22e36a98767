"""The `trainq scheduler` process: reads the pools from Redis and the database, runs the pure
placement policy (app.scheduler) and commits its decisions as all-or-nothing reservations."""
