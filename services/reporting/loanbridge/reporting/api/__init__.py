"""reporting's HTTP API (flask-smorest blueprints)."""
