"""The identity service: staff accounts, roles, teams, partner and service clients, tokens and signing keys."""
