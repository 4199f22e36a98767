"""Notification webhooks to the business system: payloads, the outbox, and the dispatcher."""
