"""risk's HTTP API (flask-smorest blueprints)."""
