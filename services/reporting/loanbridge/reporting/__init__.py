"""The reporting service: an archive of every event it consumed, read models built from it, and the KPIs."""
