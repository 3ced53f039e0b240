"""What a schema holds, read from the catalog in a schema-independent form, to compare two.

Every name is rendered with ``search_path`` set to the schema, so two schemas built the same
way describe identically whatever they are called. Column order is by position among the live
columns (what ``SELECT *`` returns), not by ``attnum``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_QUERIES = {
    "tables": """
        SELECT relname, relkind::text, relpersistence::text, reloptions, relowner::regrole::text,
               relacl::text, relrowsecurity, relforcerowsecurity, relreplident::text
        FROM pg_class WHERE relnamespace = :ns AND relkind NOT IN ('i', 'S')""",
    "columns": """
        SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
               a.attcollation::regcollation::text, a.attstorage::text, a.attcompression::text,
               a.attstattarget::int, a.attoptions
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = :ns AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid),
               k.condeferrable, k.condeferred, k.convalidated, k.conislocal, k.connoinherit,
               k.conindid::regclass::text, k.confrelid::regclass::text
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = :ns""",
    "indexes": """
        SELECT c.relname, pg_get_indexdef(i.indexrelid, 0, true), i.indisunique, i.indisprimary,
               i.indisexclusion, i.indimmediate, i.indisclustered, i.indisvalid,
               i.indnullsnotdistinct, c.reloptions, c.relowner::regrole::text
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = :ns""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid, true), t.tgenabled::text
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = :ns AND NOT t.tgisinternal""",
    # Foreign keys' own triggers are named by OID: compare what they do, not what they are called.
    "internal_triggers": """
        SELECT c.relname, t.tgfoid::regproc::text, t.tgtype, t.tgconstraint <> 0,
               t.tgconstrrelid::regclass::text, count(*)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = :ns AND t.tgisinternal GROUP BY 1, 2, 3, 4, 5""",
    "functions": """
        SELECT p.proname, p.prokind::text, pg_get_function_identity_arguments(p.oid),
               pg_get_function_result(p.oid), l.lanname, p.prosrc, p.provolatile::text,
               p.prosecdef, p.proisstrict, p.proconfig, p.proowner::regrole::text, p.proacl::text
        FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = :ns""",
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle, c.relowner::regrole::text,
               pg_sequence_last_value(c.oid),
               (SELECT t.relname || '.' || a.attname || ':' || d.deptype::text FROM pg_depend d
                JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = :ns""",
    "types": """
        SELECT typname, typtype::text, typrelid::regclass::text, typelem::regtype::text
        FROM pg_type WHERE typnamespace = :ns""",
    "comments": """
        SELECT d.classoid::regclass::text, d.objsubid, d.description FROM pg_description d
        WHERE d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace = :ns
                           UNION ALL SELECT oid FROM pg_proc WHERE pronamespace = :ns
                           UNION ALL SELECT oid FROM pg_constraint WHERE connamespace = :ns)""",
    "policies": """
        SELECT c.relname, p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        WHERE c.relnamespace = :ns""",
}


async def describe_schema(
    engine: AsyncEngine, schema: str, skip_rows: frozenset[str] = frozenset()
) -> dict[str, list[tuple[Any, ...]]]:
    """The catalog entries of ``schema`` by kind, sorted; ``rows`` holds every table's rows
    (as JSON, sorted) but those of ``skip_rows``."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
        try:
            ns = (
                await conn.execute(
                    text("SELECT oid FROM pg_namespace WHERE nspname = :s"), {"s": schema}
                )
            ).scalar_one()
            for kind, sql in _QUERIES.items():
                rows = await conn.execute(text(sql), {"ns": ns})
                found[kind] = sorted((tuple(r) for r in rows), key=repr)
            found["rows"] = []
            for table in [t[0] for t in found["tables"] if t[1] == "r"]:
                if table in skip_rows:
                    continue
                quoted = '"' + table.replace('"', '""') + '"'
                sql = f"SELECT coalesce(json_agg(r ORDER BY r::text)::text, '') FROM {quoted} r"
                found["rows"].append((table, (await conn.execute(text(sql))).scalar()))
        finally:
            await conn.rollback()
    return found


def differences(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> list[str]:
    """Readable lines for what one description has and the other lacks."""
    lines = []
    for kind in sorted(set(a) | set(b)):
        only_a = [x for x in a.get(kind, []) if x not in b.get(kind, [])]
        only_b = [x for x in b.get(kind, []) if x not in a.get(kind, [])]
        lines += [f"{kind} only in the first: {x}" for x in only_a]
        lines += [f"{kind} only in the second: {x}" for x in only_b]
    return lines
