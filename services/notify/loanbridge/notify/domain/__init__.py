"""notify's business rules: plain Python, no Flask, SQLAlchemy or kombu."""
