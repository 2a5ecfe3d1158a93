"""identity's HTTP API (flask-smorest blueprints)."""
