"""workflow's HTTP API (flask-smorest blueprints under /api/workflow/v1)."""
