"""notify's HTTP API (flask-smorest blueprints)."""
