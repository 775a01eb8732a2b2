"""Command handlers: load facts, call the domain, persist everything in one transaction."""
