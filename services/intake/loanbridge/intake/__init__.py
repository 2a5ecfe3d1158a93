"""The intake service: the firm's single customer master, leads from staff and partners, channels."""
