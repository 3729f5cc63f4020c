"""Django's PostgreSQL backend, its health check without a round trip (base.py)."""
