"""identity's settings: token lifetime, lock-out policy, and the key that encrypts contacts and signing keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher

from loanbridge.common.config import Env
from loanbridge.common.pii.crypto import FieldCipher, field_cipher_from_env


@dataclass(frozen=True)
class IdentityConfig:
    cipher: FieldCipher
    token_ttl_seconds: int = 3600
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    @classmethod
    def from_env(cls, env: Env | None = None) -> IdentityConfig:
        env = env or Env()
        return cls(
            cipher=field_cipher_from_env(env),
            token_ttl_seconds=env.integer("IDENTITY_TOKEN_TTL_SECONDS", 3600),
            lockout_threshold=env.integer("IDENTITY_LOCKOUT_THRESHOLD", 5),
            lockout_seconds=env.integer("IDENTITY_LOCKOUT_SECONDS", 900),
        )
