"""Field-level encryption of margin, cost and revenue values and other secrets (DESIGN.md §5).

AES-256-GCM per value under a per-tenant, versioned data key, wrapped by a master key behind a
small KMS interface. Pure Python: loading and storing wrapped keys is the caller's job.

Typical use::

    kms = LocalKms(load_master_key(settings.master_key, settings.data_dir))
    keyring = TenantKeyring.unwrap(tenant_id, wrapped_keys, active_version, kms)
    codec = FieldCodec(keyring)
    blob = codec.encrypt(Decimal("12.50"), table="item", column="margin", row_key=str(item_id))
"""

from ._plaintext import FieldValue
from .codec import (
    FORMAT_VERSION,
    BlobHeader,
    FieldCodec,
    OnError,
    key_version_of,
    read_header,
)
from .errors import (
    INTEGRITY_ERROR,
    EncryptionError,
    IntegrityError,
    IntegrityMarker,
    KeyUnwrapError,
    UnknownKeyVersionError,
)
from .keyring import DataKey, TenantKeyring, key_context, new_wrapped_key
from .kms import Kms, LocalKms, load_master_key
from .masking import MASKED, mask_value, page_value

__all__ = [
    "FORMAT_VERSION",
    "INTEGRITY_ERROR",
    "MASKED",
    "BlobHeader",
    "DataKey",
    "EncryptionError",
    "FieldCodec",
    "FieldValue",
    "IntegrityError",
    "IntegrityMarker",
    "KeyUnwrapError",
    "Kms",
    "LocalKms",
    "OnError",
    "TenantKeyring",
    "UnknownKeyVersionError",
    "key_context",
    "key_version_of",
    "load_master_key",
    "mask_value",
    "new_wrapped_key",
    "page_value",
    "read_header",
]
