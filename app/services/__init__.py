"""Commands between the routes/consumer and the models: validate, then one transaction."""
