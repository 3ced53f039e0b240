"""Stored data keys, the codec cache, key rotation (job and CLI) and crypto-shredding on tenant
deletion, all against the real embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import typer
from arq import Retry
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.conftest import TenantFactory
from tests.support.dumps import pg_dump
from tierline.platform.audit.models import AuditLog
from tierline.platform.control_plane import Tenant
from tierline.platform.encryption import FieldCodec, IntegrityError, key_version_of
from tierline.platform.encryption import jobs as key_jobs
from tierline.platform.encryption.cli import keys_app
from tierline.platform.encryption.jobs import (
    ROTATE,
    rotate_key_step,
    rotate_keys,
    submit_rotation,
)
from tierline.platform.encryption.store import (
    ENCRYPTED_COLUMNS,
    OIDC_CLIENT_SECRET,
    KeyRow,
    WrappedDataKey,
    kms_from_settings,
    load_codec,
    read_keys,
)
from tierline.platform.identity.models import OidcProvider
from tierline.platform.identity.users import SYSTEM
from tierline.platform.jobs import get_tenant_job
from tierline.platform.jobs.worker import execute_job
from tierline.platform.runtime import Runtime
from tierline.platform.tenancy import TenantNotFound, TenantRef, tenant_session
from tierline.platform.tenant_directory import TenantDirectory
from tierline.tenants.cli import delete_command
from tierline.tenants.deletion import delete_tenant

SECRET = OIDC_CLIENT_SECRET


# ---------------------------------------------------------------------------------------------
# Helpers


async def keys_of(tenant: TenantRef) -> list[KeyRow]:
    async with tenant_session(tenant) as s:
        return await read_keys(s)


async def codec_of(runtime: Runtime, tenant: TenantRef) -> FieldCodec:
    return await load_codec(tenant, kms_from_settings(runtime.settings), runtime.databases)


async def add_providers(
    runtime: Runtime, tenant: TenantRef, count: int = 0, ids: list[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """OIDC providers (``count`` new ones, or with the given ``ids``) whose client secrets are
    sealed with the tenant's codec; returns the plaintext secrets by provider id."""
    codec = await codec_of(runtime, tenant)
    chosen = ids if ids is not None else [uuid.uuid4() for _ in range(count)]
    secrets = {pid: f"secret-{tenant.slug}-{i}-{uuid.uuid4().hex}" for i, pid in enumerate(chosen)}
    async with tenant_session(tenant) as s:
        for pid, secret in secrets.items():
            s.add(
                OidcProvider(
                    id=pid,
                    name=f"idp-{pid.hex[:10]}",
                    issuer="https://idp.example.com",
                    client_id=f"client-{pid.hex[:6]}",
                    client_secret_enc=codec.encrypt(secret, **SECRET.cell(str(pid))),
                    allowed_domains=["example.com"],
                    role_mapping={},
                )
            )
    return secrets


async def stored_secrets(tenant: TenantRef) -> dict[uuid.UUID, bytes]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(select(OidcProvider.id, OidcProvider.client_secret_enc))
        return {r.id: bytes(r.client_secret_enc) for r in rows}


async def decrypt_all(runtime: Runtime, tenant: TenantRef) -> dict[uuid.UUID, Any]:
    codec = await codec_of(runtime, tenant)
    return {
        pid: codec.decrypt(blob, **SECRET.cell(str(pid)))
        for pid, blob in (await stored_secrets(tenant)).items()
    }


async def rotation_audits(tenant: TenantRef) -> list[AuditLog]:
    async with tenant_session(tenant) as s:
        rows = await s.execute(select(AuditLog).where(AuditLog.action == ROTATE))
        return list(rows.scalars())


# ---------------------------------------------------------------------------------------------
# Stored keys and the codec


async def test_new_tenant_has_exactly_one_active_key(runtime: Runtime, tenant: TenantRef) -> None:
    keys = await keys_of(tenant)  # read without load_codec, which would create one lazily
    assert [(k.version, k.status) for k in keys] == [(1, "active")]
    async with tenant_session(tenant) as s:
        row = (await s.execute(select(WrappedDataKey))).scalar_one()
    assert row.kek_id == kms_from_settings(runtime.settings).key_id
    assert row.retired_at is None


async def test_provisioning_without_an_explicit_kms_still_creates_the_key(
    runtime: Runtime,
) -> None:
    from tests.conftest import unique_slug
    from tierline.tenants.service import provision_tenant

    made = await provision_tenant(runtime.databases, unique_slug("k"), "No KMS Given", "us")
    assert [(k.version, k.status) for k in await keys_of(made)] == [(1, "active")]


async def test_tenant_without_a_key_gets_one_lazily_once(
    runtime: Runtime, tenant: TenantRef
) -> None:
    async with tenant_session(tenant) as s:  # a tenant provisioned before data keys existed
        await s.execute(text("DELETE FROM data_keys"))
    codecs = await asyncio.gather(*(codec_of(runtime, tenant) for _ in range(6)))
    assert len(await keys_of(tenant)) == 1
    assert {c.keyring.active_key.key for c in codecs} == {codecs[0].keyring.active_key.key}


async def test_codec_is_cached_until_the_keys_change(runtime: Runtime, tenant: TenantRef) -> None:
    first, again = await codec_of(runtime, tenant), await codec_of(runtime, tenant)
    assert first is again
    await rotate_key_step(tenant, kms_from_settings(runtime.settings), 1, SYSTEM, None)
    rotated = await codec_of(runtime, tenant)
    assert rotated is not first and rotated.keyring.active_version == 2


def test_oidc_secret_column_is_registered() -> None:
    assert SECRET in ENCRYPTED_COLUMNS
    assert (SECRET.ad_table, SECRET.ad_column) == ("oidc_providers", "client_secret_enc")


# ---------------------------------------------------------------------------------------------
# Rotation


async def test_rotation_reencrypts_every_value_under_the_new_key(
    runtime: Runtime, tenant: TenantRef
) -> None:
    secrets = await add_providers(runtime, tenant, 5)
    assert {key_version_of(b) for b in (await stored_secrets(tenant)).values()} == {1}
    seen: list[float] = []

    result = await rotate_keys(runtime, tenant, SYSTEM, lambda f, _m: seen.append(f), batch_size=2)

    assert result["from_version"] == 1 and result["to_version"] == 2
    assert result["created_key"] is True and result["rewritten"] == 5
    assert result["columns"][SECRET.name] == 5 and result["unreadable"] == 0
    assert {key_version_of(b) for b in (await stored_secrets(tenant)).values()} == {2}
    assert await decrypt_all(runtime, tenant) == secrets
    assert [(k.version, k.status) for k in await keys_of(tenant)] == [
        (1, "retired"),
        (2, "active"),
    ]
    (audit,) = await rotation_audits(tenant)
    assert audit.before["active_version"] == 1 and audit.after["active_version"] == 2
    assert seen and seen[-1] == 1.0


async def test_a_second_rotation_makes_a_third_version(runtime: Runtime, tenant: TenantRef) -> None:
    secrets = await add_providers(runtime, tenant, 3)
    await rotate_keys(runtime, tenant, SYSTEM)
    second = await rotate_keys(runtime, tenant, SYSTEM)
    assert (second["from_version"], second["to_version"]) == (2, 3)
    assert {key_version_of(b) for b in (await stored_secrets(tenant)).values()} == {3}
    assert await decrypt_all(runtime, tenant) == secrets
    assert len(await rotation_audits(tenant)) == 2


async def test_rotation_runs_on_a_real_worker(runtime: Runtime, tenant: TenantRef) -> None:
    from arq.worker import Worker

    from tierline.platform.jobs.worker import worker_kwargs

    secrets = await add_providers(runtime, tenant, 3)
    job = await submit_rotation(runtime, tenant, SYSTEM)
    kwargs = worker_kwargs(runtime, handle_signals=False)
    worker = Worker(**{**kwargs, "burst": True, "poll_delay": 0.05, "cron_jobs": []})
    try:
        await asyncio.wait_for(worker.async_run(), timeout=60)
    finally:
        await worker.close()
    done = await get_tenant_job(runtime, tenant, job["id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["to_version"] == 2 and done["progress"] == 1.0
    assert {key_version_of(b) for b in (await stored_secrets(tenant)).values()} == {2}
    assert await decrypt_all(runtime, tenant) == secrets


async def test_old_values_still_decrypt_mid_rotation(runtime: Runtime, tenant: TenantRef) -> None:
    secrets = await add_providers(runtime, tenant, 3)
    await rotate_key_step(tenant, kms_from_settings(runtime.settings), 1, SYSTEM, None)

    codec = await codec_of(runtime, tenant)
    assert codec.keyring.active_version == 2
    assert {key_version_of(b) for b in (await stored_secrets(tenant)).values()} == {1}
    assert await decrypt_all(runtime, tenant) == secrets
    fresh = codec.encrypt("new value", **SECRET.cell("any"))
    assert fresh is not None and key_version_of(fresh) == 2


async def test_rerun_after_a_crash_finishes_without_another_key(
    runtime: Runtime, tenant: TenantRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = await add_providers(runtime, tenant, 5)
    real_batch = key_jobs._rewrite_batch
    batches = 0

    async def dies_after_one_batch(*args: Any, **kwargs: Any) -> Any:
        nonlocal batches
        batches += 1
        if batches > 1:
            raise ConnectionResetError("worker lost its database connection (simulated crash)")
        return await real_batch(*args, **kwargs)

    monkeypatch.setattr(key_jobs, "_rewrite_batch", dies_after_one_batch)
    job = await submit_rotation(runtime, tenant, SYSTEM, enqueue=False, batch_size=2)
    with pytest.raises(Retry):
        await execute_job(runtime, tenant.slug, job["id"])
    monkeypatch.undo()

    # Crashed half-way: v2 is active, some values still under v1, and all of them readable.
    versions = [key_version_of(b) for b in (await stored_secrets(tenant)).values()]
    assert sorted(versions) == [1, 1, 1, 2, 2]
    assert await decrypt_all(runtime, tenant) == secrets

    result = await rotate_keys(runtime, tenant, SYSTEM)

    assert result["created_key"] is False and result["to_version"] == 2
    assert [k.version for k in await keys_of(tenant)] == [1, 2]
    assert {key_version_of(b) for b in (await stored_secrets(tenant)).values()} == {2}
    assert await decrypt_all(runtime, tenant) == secrets
    assert len(await rotation_audits(tenant)) == 1
    done = await get_tenant_job(runtime, tenant, job["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2


async def test_a_value_that_fails_integrity_is_reported_not_rewritten(
    runtime: Runtime, tenant: TenantRef
) -> None:
    secrets = await add_providers(runtime, tenant, 3)
    victim, donor = list(secrets)[:2]
    blobs = await stored_secrets(tenant)
    async with tenant_session(tenant) as s:
        (await s.get(OidcProvider, victim)).client_secret_enc = blobs[donor]  # type: ignore[union-attr]

    result = await rotate_keys(runtime, tenant, SYSTEM)

    assert result["rewritten"] == 2 and result["unreadable"] == 1
    assert result["unreadable_rows"] == {SECRET.name: [str(victim)]}
    assert (await stored_secrets(tenant))[victim] == blobs[donor]  # left as it was


# ---------------------------------------------------------------------------------------------
# Associated data through the database


async def test_ciphertext_moved_to_another_row_column_or_tenant_fails(
    runtime: Runtime, make_tenant: TenantFactory
) -> None:
    acme, globex = await make_tenant(), await make_tenant()
    shared_id = uuid.uuid4()  # the same row key in both tenants: only the tenant differs
    acme_secrets = await add_providers(runtime, acme, ids=[shared_id, uuid.uuid4()])
    await add_providers(runtime, globex, ids=[shared_id])
    other_row = next(pid for pid in acme_secrets if pid != shared_id)
    stolen = (await stored_secrets(acme))[shared_id]

    async with tenant_session(acme) as s:
        (await s.get(OidcProvider, other_row)).client_secret_enc = stolen  # type: ignore[union-attr]
    async with tenant_session(globex) as s:
        (await s.get(OidcProvider, shared_id)).client_secret_enc = stolen  # type: ignore[union-attr]

    acme_codec, globex_codec = await codec_of(runtime, acme), await codec_of(runtime, globex)
    moved_row = (await stored_secrets(acme))[other_row]
    with pytest.raises(IntegrityError):
        acme_codec.decrypt(moved_row, **SECRET.cell(str(other_row)))
    with pytest.raises(IntegrityError):
        acme_codec.decrypt(
            stolen, table="oidc_providers", column="client_id", row_key=str(shared_id)
        )
    with pytest.raises(IntegrityError):
        globex_codec.decrypt(
            (await stored_secrets(globex))[shared_id], **SECRET.cell(str(shared_id))
        )
    # and where it belongs it still opens
    assert acme_codec.decrypt(stolen, **SECRET.cell(str(shared_id))) == acme_secrets[shared_id]


# ---------------------------------------------------------------------------------------------
# Backups hold no plaintext


async def test_database_dump_holds_neither_secret_nor_data_key(
    runtime: Runtime, tenant: TenantRef
) -> None:
    secrets = await add_providers(runtime, tenant, 1)
    ((pid, secret),) = secrets.items()
    codec = await codec_of(runtime, tenant)
    data_key = codec.keyring.active_key.key
    wrapped = (await keys_of(tenant))[0].wrapped_key

    dump = await asyncio.to_thread(pg_dump, runtime, tenant.schema)

    assert (await stored_secrets(tenant))[pid].hex().encode() in dump  # the value was dumped
    assert wrapped.hex().encode() in dump  # and so was the wrapped key
    assert secret.encode() not in dump
    assert data_key not in dump and data_key.hex().encode() not in dump


# ---------------------------------------------------------------------------------------------
# Tenant deletion (crypto-shredding)


async def _schema_exists(runtime: Runtime, schema: str) -> bool:
    async with runtime.databases.region("eu").connect() as conn:
        found = await conn.execute(text("SELECT to_regnamespace(:s)"), {"s": f'"{schema}"'})
        return found.scalar() is not None


async def _control_row(runtime: Runtime, slug: str) -> Any:
    async with runtime.databases.control.connect() as conn:
        return (await conn.execute(select(Tenant).where(Tenant.slug == slug))).one_or_none()


async def test_wrong_confirmation_deletes_nothing(runtime: Runtime, tenant: TenantRef) -> None:
    await add_providers(runtime, tenant, 1)
    with pytest.raises(ValueError, match=f"typing the slug '{tenant.slug}'"):
        await delete_tenant(runtime.databases, tenant.slug, "yes", SYSTEM)
    with pytest.raises(ValueError):
        await delete_tenant(runtime.databases, tenant.slug, None, SYSTEM)
    assert await _schema_exists(runtime, tenant.schema)
    assert (await _control_row(runtime, tenant.slug)).status == "active"
    assert len(await keys_of(tenant)) == 1
    assert len(await decrypt_all(runtime, tenant)) == 1


async def test_deleting_a_tenant_shreds_its_keys_and_drops_everything(
    runtime: Runtime, make_tenant: TenantFactory
) -> None:
    doomed, bystander = await make_tenant(), await make_tenant()
    await add_providers(runtime, doomed, 2)
    kept = await add_providers(runtime, bystander, 1)

    done = await delete_tenant(runtime.databases, doomed.slug, doomed.slug, SYSTEM)

    assert done.data_keys == 1 and done.schema_existed
    assert not await _schema_exists(runtime, doomed.schema)
    assert await _control_row(runtime, doomed.slug) is None
    with pytest.raises(TenantNotFound):
        await TenantDirectory(runtime.databases, ttl_seconds=0).get(doomed.slug)
    async with runtime.databases.region("eu").connect() as conn:
        keys_table = await conn.execute(
            text("SELECT to_regclass(:t)"), {"t": f'"{doomed.schema}".data_keys'}
        )
        assert keys_table.scalar() is None
    assert await decrypt_all(runtime, bystander) == kept  # other tenants untouched


# ---------------------------------------------------------------------------------------------
# Command line


async def test_keys_rotate_command(runtime: Runtime, tenant: TenantRef) -> None:
    await add_providers(runtime, tenant, 2)
    runner = CliRunner()
    ok = await asyncio.to_thread(runner.invoke, keys_app, ["rotate", "--tenant", tenant.slug])
    assert ok.exit_code == 0, ok.output
    assert f"rotated data key of '{tenant.slug}': v1 → v2, re-encrypted 2 values" in ok.output
    missing = await asyncio.to_thread(runner.invoke, keys_app, ["rotate", "--tenant", "no_such"])
    assert missing.exit_code == 1
    assert "error: no active tenant 'no_such'" in missing.output


async def test_tenants_delete_command(runtime: Runtime, tenant: TenantRef) -> None:
    app = typer.Typer()
    app.command()(delete_command)
    runner = CliRunner()
    wrong = await asyncio.to_thread(runner.invoke, app, [tenant.slug], input="nope\n")
    assert wrong.exit_code == 1 and "confirm by typing the slug" in wrong.output
    assert await _schema_exists(runtime, tenant.schema)
    ok = await asyncio.to_thread(runner.invoke, app, [tenant.slug, "--confirm", tenant.slug])
    assert ok.exit_code == 0, ok.output
    assert f"deleted tenant '{tenant.slug}'" in ok.output
    assert not await _schema_exists(runtime, tenant.schema)
    async with runtime.databases.control.connect() as conn:
        count = await conn.execute(
            select(func.count()).select_from(Tenant).where(Tenant.slug == tenant.slug)
        )
        assert count.scalar_one() == 0
