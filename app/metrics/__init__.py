"""trainq's own Prometheus metrics, served by GET /metrics (not the training metrics jobs report).

catalogue: what each metric is; store: the event metrics in Redis; record: what the scheduler
and the consumer add to them; collector: what a scrape answers."""
