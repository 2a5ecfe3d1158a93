"""intake's HTTP API (flask-smorest blueprints)."""
