"""Integration tests: the distributed mode on real MariaDB and RabbitMQ, through the gateway."""
