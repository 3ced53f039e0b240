"""Per-tenant, versioned data keys (DEKs), stored wrapped by the KMS.

Each tenant has one or more data-key versions; new values are sealed under the active version and
every version in the keyring still decrypts, which is what lets rotation run as a batch job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._canonical import encode_part
from .kms import KEY_SIZE, Kms

# The stored format carries the key version in 4 bytes.
MAX_KEY_VERSION = 2**32 - 1
_WRAP_DOMAIN = "tierline.dek.v1"


@dataclass(frozen=True, slots=True)
class DataKey:
    """One version of a tenant data key; the key bytes stay out of ``repr``."""

    version: int
    key: bytes = field(repr=False)


def key_context(tenant_id: str, version: int) -> bytes:
    """Associated data for wrapping a data key: binds it to its tenant and version, so a wrapped
    key copied to another tenant or relabelled as another version does not unwrap."""
    _check_version(version)
    return encode_part(_WRAP_DOMAIN) + encode_part(tenant_id) + version.to_bytes(4, "big")


def new_wrapped_key(kms: Kms, tenant_id: str, version: int) -> bytes:
    """A fresh random data key for ``tenant_id`` at ``version``, wrapped for storage."""
    return kms.wrap(os.urandom(KEY_SIZE), key_context(tenant_id, version))


class TenantKeyring:
    """The unwrapped data keys of one tenant, with one AES-GCM object per version built once."""

    __slots__ = ("_aeads", "_keys", "active_version", "tenant_id")

    def __init__(self, tenant_id: str, keys: Mapping[int, bytes], active_version: int) -> None:
        for version, key in keys.items():
            _check_version(version)
            if len(key) != KEY_SIZE:
                raise ValueError(f"data key version {version} must be {KEY_SIZE} bytes")
        if active_version not in keys:
            raise ValueError(f"active key version {active_version} is not in the keyring")
        self.tenant_id = tenant_id
        self.active_version = active_version
        self._keys: Mapping[int, bytes] = MappingProxyType(dict(keys))
        self._aeads: Mapping[int, AESGCM] = MappingProxyType(
            {version: AESGCM(key) for version, key in keys.items()}
        )

    @classmethod
    def unwrap(
        cls, tenant_id: str, wrapped: Mapping[int, bytes], active_version: int, kms: Kms
    ) -> TenantKeyring:
        """Build the keyring from stored wrapped keys; raises ``KeyUnwrapError`` on a bad key."""
        keys = {
            version: kms.unwrap(blob, key_context(tenant_id, version))
            for version, blob in wrapped.items()
        }
        return cls(tenant_id, keys, active_version)

    def __repr__(self) -> str:
        return (
            f"TenantKeyring(tenant_id={self.tenant_id!r}, versions={self.versions}, "
            f"active_version={self.active_version})"
        )

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys))

    @property
    def active_key(self) -> DataKey:
        return DataKey(self.active_version, self._keys[self.active_version])

    def aeads(self) -> Mapping[int, AESGCM]:
        """Read-only view of the cached AES-GCM object for each key version."""
        return self._aeads


def _check_version(version: int) -> None:
    if not 1 <= version <= MAX_KEY_VERSION:
        raise ValueError(f"key version must be between 1 and {MAX_KEY_VERSION}, got {version}")
