"""reporting's rules: which business day an event counts on, and what each KPI means (docs/kpis.md)."""
