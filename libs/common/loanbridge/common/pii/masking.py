"""Masked forms of personal data for answers and events (138****1234, 3701**********1234, 张*)."""

from __future__ import annotations


def mask_mobile(mobile: str) -> str:
    if len(mobile) <= 7:  # keeping 3 + 4 characters of 7 or fewer would show them all
        return "*" * len(mobile)
    return f"{mobile[:3]}{'*' * (len(mobile) - 7)}{mobile[-4:]}"


def mask_id_number(id_number: str) -> str:
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return f"{id_number[:4]}{'*' * (len(id_number) - 8)}{id_number[-4:]}"


def mask_name(name: str) -> str:
    """Keep the first character (usually the surname), hide the rest."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)
