"""What a rule set is evaluated on: an application's features with its amount, term, documents and what is
missing, flattened into one input object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loanbridge.risk.domain.features import DERIVED_FIELDS, known_fields

SUBMISSION_FIELDS = (
    "product",
    "amount",
    "term_months",
    "channel",
    "city",
    "documents",
    "required_documents",
    "missing_fields",
)


def from_submission(data: Mapping[str, Any]) -> dict[str, Any]:
    """The input of an ``intake.application.submitted`` event (its features, then the application's fields)."""
    return {**(data.get("features") or {}), **{name: data.get(name) for name in SUBMISSION_FIELDS}}


def from_lead(lead: Mapping[str, Any], intent_level: str | None) -> dict[str, Any]:
    """What is known of a lead before any application: for grading from the first contact."""
    return {
        **(lead.get("features") or {}),
        "product": lead.get("product"),
        "amount": lead.get("amount"),
        "term_months": lead.get("term_months"),
        "channel": lead.get("channel"),
        "city": lead.get("city"),
        "intent_level": intent_level,
        "documents": None,
        "required_documents": None,
        "missing_fields": None,
    }


def for_dry_run(
    product: str, features: Mapping[str, Any], documents: list[str] | None, required_documents: list[str] | None
) -> dict[str, Any]:
    """A pre-screening input: documents are judged only when the caller lists them."""
    application = {
        **features,
        "product": product,
        "documents": documents,
        "required_documents": required_documents if documents is not None else None,
    }
    application.setdefault("missing_fields", [])
    return application


def unknown_features(features: Mapping[str, Any], product_features: Mapping[str, str]) -> list[str]:
    """The features a caller may not send: what the model derives, the product itself, and names no one knows."""
    known = known_fields(product_features) - DERIVED_FIELDS.keys() - {"product"}
    return sorted(name for name in features if name not in known)


def missing_documents(application: Mapping[str, Any]) -> list[str]:
    present = set(application.get("documents") or [])
    return [kind for kind in application.get("required_documents") or [] if kind not in present]
