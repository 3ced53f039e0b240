"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256

# The most used passwords that pass a length check; a longer list would belong in a data file.
_COMMON = {
    "password1234",
    "123456789012",
    "qwertyuiopas",
    "iloveyou1234",
    "passwordpassword",
    "welcome12345",
    "administrator",
    "letmein12345",
    "changeme1234",
    "supplychain1",
}


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-effort check: an absent hash still costs one argon2 verification."""
    target = stored_hash or _dummy_hash()
    try:
        ok = _hasher().verify(target, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not-a-real-password-but-the-same-cost")


def password_problems(password: str, email: str = "") -> list[str]:
    """Why ``password`` is refused (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"use at most {MAX_LENGTH} characters")
    if len(set(password)) < 5:
        problems.append("use more different characters")
    if password.lower() in _COMMON:
        problems.append("this password is too common")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        problems.append("do not include your e-mail name")
    return problems
