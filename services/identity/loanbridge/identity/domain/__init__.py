"""identity's rules: who may hold which role, when an account locks, what a token says."""
