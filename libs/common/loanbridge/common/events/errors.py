"""What an event handler may raise besides a bug."""


class NotYet(Exception):
    """The event needs something not known yet (an evaluation before its case): retry later, not poison."""


class UnreadableEvent(Exception):
    """The message is not an envelope this service can parse: no retry can fix it."""
