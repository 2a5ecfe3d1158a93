"""intake's settings: PII keys, partner quota, cities beyond Shandong's 16."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loanbridge.common.cache import TtlCache
from loanbridge.common.config import Env
from loanbridge.common.pii.crypto import BlindIndex, blind_index_from_env, keks_from_env
from loanbridge.common.pii.vault import SubjectVault
from loanbridge.intake.domain.leads import SHANDONG_CITIES
from loanbridge.intake.orm import customer_keys
from loanbridge.intake.storage import DocumentStore, max_document_bytes, store_from_settings

# Channels and partner quotas are read on every lead; a change reaches every process within this many seconds.
REFERENCE_DATA_TTL = 5.0


@dataclass(frozen=True)
class IntakeConfig:
    vault: SubjectVault
    blind_index: BlindIndex
    partner_quota_per_minute: int = 600
    cities: tuple[str, ...] = SHANDONG_CITIES
    channels: TtlCache[Any] = field(default_factory=lambda: TtlCache(REFERENCE_DATA_TTL))
    forms: TtlCache[Any] = field(default_factory=lambda: TtlCache(REFERENCE_DATA_TTL))
    quotas: TtlCache[int] = field(default_factory=lambda: TtlCache(REFERENCE_DATA_TTL))
    documents: DocumentStore | None = None
    max_document_bytes: int = 20 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Env | None = None) -> IntakeConfig:
        env = env or Env()
        extra = tuple(city.strip() for city in (env.get("INTAKE_EXTRA_CITIES") or "").split(",") if city.strip())
        return cls(
            vault=SubjectVault(customer_keys, "customer_id", *keks_from_env(env)),
            blind_index=blind_index_from_env(env),
            partner_quota_per_minute=env.integer("INTAKE_PARTNER_QUOTA_PER_MINUTE", 600),
            cities=SHANDONG_CITIES + extra,
            documents=store_from_settings(env, var_dir=Path(env.get("VAR_DIR", "var") or "var").resolve()),
            max_document_bytes=max_document_bytes(env),
        )
