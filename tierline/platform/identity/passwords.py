"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from functools import lru_cache

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from tierline.platform.settings import get_settings

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


# Argon2id cost by ``TIERLINE_PASSWORD_HASH_COST``. ``standard`` is RFC 9106's second
# recommendation (3 passes over 64 MiB, 4 lanes; argon2-cffi's default). ``minimal`` is the
# least argon2 accepts, same salt and digest lengths: only for test suites, which create and
# sign in hundreds of users. Either verifies hashes made by the other (a hash carries its
# parameters), and sign-in upgrades a hash made at another cost (``needs_rehash``).
COSTS = {
    "standard": RFC_9106_LOW_MEMORY,
    "minimal": Parameters(
        type=Type.ID,
        version=19,
        salt_len=RFC_9106_LOW_MEMORY.salt_len,
        hash_len=RFC_9106_LOW_MEMORY.hash_len,
        time_cost=1,
        memory_cost=8,
        parallelism=1,
    ),
}


@lru_cache(maxsize=2)
def hasher_for(cost: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(COSTS[cost])


def _hasher() -> PasswordHasher:
    return hasher_for(get_settings().password_hash_cost)


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


def _dummy_hash() -> str:
    return _dummy_hash_at(get_settings().password_hash_cost)


@lru_cache(maxsize=2)
def _dummy_hash_at(cost: str) -> str:
    return hasher_for(cost).hash("not-a-real-password-but-the-same-cost")


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
