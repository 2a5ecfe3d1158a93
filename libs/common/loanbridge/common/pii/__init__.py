"""Personal data: field encryption, blind indexes, masking and validators (ARCHITECTURE.md §5)."""
