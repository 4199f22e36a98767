"""The result consumer: worker events from the Redis Stream into the database."""
