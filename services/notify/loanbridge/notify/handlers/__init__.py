"""notify's use cases: consuming events, dispatching messages, webhooks, the inbox and the admin records."""
