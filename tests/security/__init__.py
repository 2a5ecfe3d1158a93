"""Security checks of the suite: API fuzzing, the access matrix, rate limits and lock-out."""
