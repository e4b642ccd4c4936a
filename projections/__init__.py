"""Read models: each is built only from the event log and can be rebuilt from it."""
