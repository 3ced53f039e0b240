"""Scheme documents: every class of bad input with path and line, hashing, schema, schedule."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml

from tierline.segmentation.schemes.document import (
    SchemeInvalid,
    SchemeIssue,
    content_hash,
    in_freeze,
    load_template,
    next_run_after,
    parse_scheme,
    scheme_from_dict,
    scheme_json_schema,
    scheme_to_dict,
    segment_rank,
    template_names,
)

BASE = """\
code: demo
name: Demo
entity: customer
segments:
  - {code: GOLD, name: Gold, rank: 1}
  - {code: SILV, name: Silver, rank: 2}
classifiers:
  abc: {driver: revenue, thresholds: {A: 0.8, B: 0.95}}
  xyz: {thresholds: {X: 0.5, Y: 1.0}}
tree:
  - when: {attr: abc, eq: A}
    segment: GOLD
  - segment: SILV
"""


def errors_of(text: str) -> list[SchemeIssue]:
    with pytest.raises(SchemeInvalid) as caught:
        parse_scheme(textwrap.dedent(text))
    return caught.value.errors


def issue(errors: list[SchemeIssue], path: str) -> SchemeIssue:
    found = [e for e in errors if e.path == path]
    assert found, f"no error at {path}: {errors}"
    return found[0]


def with_tree(tree: str, extra: str = "") -> str:
    head = BASE.split("tree:\n")[0]
    return head + "tree:\n" + textwrap.dedent(tree) + textwrap.dedent(extra)


def test_base_document_parses_with_defaults() -> None:
    parsed = parse_scheme(BASE)
    scheme = parsed.scheme
    assert parsed.warnings == []
    assert scheme.window.months == 12 and scheme.variability.bucket == "month"
    assert scheme.stability.consecutive_runs == 1 and scheme.stability.spike_share == 1.0
    assert scheme.reclassification.max_tier_jump == 20
    assert scheme.schedule.frequency == "manual"
    assert scheme.data_checks.empty_history == "refuse"
    assert segment_rank(scheme) == {"GOLD": 1, "SILV": 2}


def test_unknown_attribute() -> None:
    errors = errors_of(
        with_tree("  - when: {attr: colour, eq: red}\n    segment: GOLD\n  - segment: SILV\n")
    )
    found = issue(errors, "tree[0].when.attr")
    assert found.line == 11 and "Unknown attribute 'colour'" in found.message


def test_product_attribute_is_unknown_on_customer_schemes_and_prefixed_on_pairs() -> None:
    errors = errors_of(
        with_tree("  - when: {attr: product_line, eq: X}\n    segment: GOLD\n  - segment: SILV\n")
    )
    assert issue(errors, "tree[0].when.attr").line == 11
    pair = with_tree(
        "  - when: {attr: product.product_line, eq: X}\n    segment: GOLD\n"
        "  - when: {attr: customer.attributes.tier, eq: '1'}\n    segment: GOLD\n"
        "  - segment: SILV\n"
    ).replace("entity: customer", "entity: customer_product")
    parse_scheme(pair)


def test_xyz_needs_the_classifier() -> None:
    text = with_tree("  - when: {attr: xyz, eq: X}\n    segment: GOLD\n  - segment: SILV\n")
    text = text.replace("  xyz: {thresholds: {X: 0.5, Y: 1.0}}\n", "")
    found = issue(errors_of(text), "tree[0].when.attr")
    assert "classifiers.xyz" in found.message and found.line == 10


@pytest.mark.parametrize(
    ("thresholds", "path", "line"),
    [
        (
            "abc: {driver: revenue, thresholds: {A: 0.95, B: 0.95}}",
            "classifiers.abc.thresholds.B",
            8,
        ),
        ("abc: {driver: revenue, thresholds: {A: 0.9, B: 0.8}}", "classifiers.abc.thresholds.B", 8),
        ("abc: {driver: revenue, thresholds: {A: 0.8, B: 1.2}}", "classifiers.abc.thresholds.B", 8),
        ("abc: {driver: revenue, thresholds: {A: 0, B: 0.9}}", "classifiers.abc.thresholds.A", 8),
        ("xyz: {thresholds: {X: 1.0, Y: 0.5}}", "classifiers.xyz.thresholds.Y", 9),
        ("xyz: {thresholds: {X: -1, Y: 0.5}}", "classifiers.xyz.thresholds.X", 9),
    ],
)
def test_bad_thresholds(thresholds: str, path: str, line: int) -> None:
    key = thresholds.split(":")[0]
    lines = BASE.splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if text.strip().startswith(key + ":"))
    lines[index] = f"  {thresholds}\n"
    assert issue(errors_of("".join(lines)), path).line == line


def test_rule_after_unconditional_rule_is_unreachable() -> None:
    errors = errors_of(
        with_tree("  - segment: SILV\n  - when: {attr: abc, eq: A}\n    segment: GOLD\n")
    )
    found = issue(errors, "tree[1]")
    assert "Unreachable" in found.message and found.line == 12
    last = issue(errors, "tree[1]")  # and the list no longer ends unconditionally
    assert last.line == 12


def test_last_rule_must_be_unconditional_at_every_level() -> None:
    errors = errors_of(
        with_tree("""\
          - when: {attr: abc, eq: A}
            then:
              - when: {attr: margin_pct, gte: 0.2}
                segment: GOLD
          - when: {attr: abc, eq: B}
            segment: SILV
        """)
    )
    assert issue(errors, "tree[0].then[0]").line == 13
    assert issue(errors, "tree[1]").line == 15


def test_unreferenced_subtree_is_unreachable() -> None:
    errors = errors_of(BASE + "subtrees:\n  spare:\n    - segment: GOLD\n")
    found = issue(errors, "subtrees.spare")
    assert "never the target" in found.message and found.line == 15


def test_impossible_values() -> None:
    errors = errors_of(
        with_tree("""\
          - when: {attr: abc, in: [A, D]}
            segment: GOLD
          - when: {attr: xyz, eq: W}
            segment: GOLD
          - segment: SILV
        """)
    )
    assert issue(errors, "tree[0].when.in[1]").line == 11
    assert "never 'D'" in issue(errors, "tree[0].when.in[1]").message
    assert issue(errors, "tree[1].when.eq").line == 13


def test_condition_already_caught_by_earlier_rules() -> None:
    errors = errors_of(
        with_tree("""\
          - when: {attr: abc, in: [A, B]}
            segment: GOLD
          - when: {all: [{attr: abc, eq: A}, {attr: region, eq: EMEA}]}
            segment: SILV
          - when: {attr: abc, eq: A}
            then:
              - when: {attr: abc, eq: B}
                segment: GOLD
              - segment: SILV
          - segment: SILV
        """)
    )
    assert "never match" in issue(errors, "tree[1].when").message
    assert issue(errors, "tree[1].when").line == 13
    assert issue(errors, "tree[2].when").line == 15


def test_nested_condition_contradicting_its_parent() -> None:
    errors = errors_of(
        with_tree("""\
          - when: {attr: abc, eq: A}
            then:
              - when: {attr: abc, eq: B}
                segment: GOLD
              - segment: SILV
          - segment: SILV
        """)
    )
    assert issue(errors, "tree[0].then[0].when").line == 13


@pytest.mark.parametrize(
    ("snippet", "path", "line"),
    [
        (
            ("  - when: {attr: abc, eq: A}\n    segment: PLAT\n  - segment: SILV\n", ""),
            "tree[0].segment",
            12,
        ),
        (
            (
                "  - when: {attr: abc, eq: A}\n    goto: sub\n  - segment: SILV\n",
                "subtrees:\n  sub:\n    - segment: NOPE\n",
            ),
            "subtrees.sub[0].segment",
            16,
        ),
        (
            ("  - segment: SILV\n", "exceptions:\n  - lifecycle: promotional\n    segment: NOPE\n"),
            "exceptions[0].segment",
            14,
        ),
        (
            (
                "  - segment: SILV\n",
                "exceptions:\n  - lifecycle: npi\n    by: product_line\n    map: {Coatings: NOPE}\n"
                "    otherwise: NADA\n",
            ),
            "exceptions[0].map.Coatings",
            15,
        ),
        (
            (
                "  - segment: SILV\n",
                "exceptions:\n  - lifecycle: npi\n    by: product_line\n    map: {Coatings: GOLD}\n"
                "    otherwise: NADA\n",
            ),
            "exceptions[0].otherwise",
            16,
        ),
    ],
)
def test_undefined_segment(snippet: tuple[str, str], path: str, line: int) -> None:
    text = with_tree(*snippet).replace("entity: customer", "entity: product")
    found = issue(errors_of(text), path)
    assert "not defined" in found.message and found.line == line


def test_goto_cycle_and_unknown_subtree() -> None:
    errors = errors_of(
        with_tree(
            "  - when: {attr: abc, eq: A}\n    goto: one\n  - when: {attr: abc, eq: B}\n"
            "    goto: missing\n  - segment: SILV\n",
            "subtrees:\n  one:\n    - when: {attr: region, eq: EMEA}\n      goto: two\n"
            "    - segment: GOLD\n  two:\n    - goto: one\n",
        )
    )
    cycle = issue(errors, "subtrees.one")
    assert cycle.message == "goto cycle: one -> two -> one" and cycle.line == 17
    assert issue(errors, "tree[1].goto").line == 14


def test_self_goto_is_a_cycle() -> None:
    errors = errors_of(
        with_tree(
            "  - when: {attr: abc, eq: A}\n    goto: me\n  - segment: SILV\n",
            "subtrees:\n  me:\n    - goto: me\n",
        )
    )
    assert issue(errors, "subtrees.me").message == "goto cycle: me -> me"


def test_duplicate_segment_codes_and_ranks() -> None:
    text = BASE.replace(
        "  - {code: SILV, name: Silver, rank: 2}\n",
        "  - {code: SILV, name: Silver, rank: 1}\n  - {code: GOLD, name: G2, rank: 3}\n",
    )
    errors = errors_of(text)
    assert issue(errors, "segments[1].rank").line == 6
    assert issue(errors, "segments[2].code").line == 7


def test_bad_types_are_all_reported() -> None:
    text = (
        BASE.replace("rank: 2", "rank: two")
        .replace("driver: revenue", "driver: profit")
        .replace("code: demo", "code: Demo!")
        + "window: {months: 0}\nstability: 3\n"
    )
    errors = errors_of(text)
    assert {e.path for e in errors} >= {
        "code",
        "segments[1].rank",
        "classifiers.abc.driver",
        "window.months",
        "stability",
    }
    assert issue(errors, "segments[1].rank").line == 6
    assert issue(errors, "window.months").line == 14
    assert issue(errors, "stability").message.startswith("Expected a mapping")


def test_condition_value_types() -> None:
    errors = errors_of(
        with_tree("""\
          - when: {all: [{attr: strategic, eq: "yes"}, {attr: volume, gte: 10}, {attr: region, gt: 3}]}
            segment: GOLD
          - when: {attr: abc}
            segment: GOLD
          - when: {attr: abc, eq: A, ne: B}
            segment: GOLD
          - segment: SILV
        """)
    )
    assert issue(errors, "tree[0].when.all[0].eq").line == 11
    assert "numbers" in issue(errors, "tree[0].when.all[2].gt").message
    assert issue(errors, "tree[1].when").line == 13
    assert issue(errors, "tree[2].when").line == 15


def test_norway_stays_a_country() -> None:
    text = with_tree(
        "  - when: {attr: country, in: [NO, SE]}\n    segment: GOLD\n  - segment: SILV\n"
    )
    rule = parse_scheme(text).scheme.tree[0]
    assert rule.when is not None and rule.when.in_ == ["NO", "SE"]


def test_yaml_syntax_error_has_its_line() -> None:
    errors = errors_of(BASE.replace("  - segment: SILV", "  - segment: SILV: x"))
    assert errors[0].line == 13 and "YAML syntax error" in errors[0].message
    assert errors_of(BASE.replace("segment: SILV", "segment: [SILV"))[0].line == 14  # at EOF


def test_unknown_keys_at_every_level() -> None:
    errors = errors_of(BASE + "colour_scheme: dark\n".replace("", "") + "windw: {months: 3}\n")
    assert issue(errors, "colour_scheme").line == 14
    assert issue(errors, "windw").line == 15
    nested = errors_of(BASE.replace("segment: GOLD", "segment: GOLD\n    label: x"))
    assert issue(nested, "tree[0].label").line == 13


def test_missing_required_keys() -> None:
    errors = errors_of("code: demo\nname: Demo\n")
    assert {e.path for e in errors} == {"entity", "segments", "tree"}


def test_unassigned_segment_is_a_warning() -> None:
    text = BASE.replace(
        "  - {code: SILV, name: Silver, rank: 2}\n",
        "  - {code: SILV, name: Silver, rank: 2}\n  - {code: IDLE, name: Idle, rank: 3}\n",
    )
    parsed = parse_scheme(text)
    assert parsed.warnings == [SchemeIssue("segments[2].code", "Segment IDLE is never assigned", 7)]


def test_exceptions_rules() -> None:
    errors = errors_of(
        with_tree("  - segment: SILV\n", "exceptions:\n  - lifecycle: npi\n    segment: GOLD\n")
    )
    assert issue(errors, "exceptions").line == 12  # customer schemes have no lifecycle
    product = with_tree(
        "  - when: {attr: lifecycle, eq: npi}\n    segment: GOLD\n  - segment: SILV\n",
        "exceptions:\n  - lifecycle: npi\n    segment: GOLD\n"
        "  - lifecycle: npi\n    by: category\n    map: {X: SILV}\n",
    )
    errors = errors_of(product.replace("entity: customer", "entity: product"))
    assert issue(errors, "exceptions[1].lifecycle").line == 17
    assert "never match" in issue(errors, "tree[0].when").message


def test_json_text_and_dict_input() -> None:
    data = yaml.safe_load(BASE)
    from_json = parse_scheme(json.dumps(data, indent=2))
    assert content_hash(from_json.scheme) == content_hash(parse_scheme(BASE).scheme)
    assert scheme_from_dict(data).scheme == from_json.scheme
    with pytest.raises(SchemeInvalid) as caught:
        parse_scheme(json.dumps({**data, "entity": "supplier"}, indent=2))
    assert caught.value.errors[0].path == "entity" and caught.value.errors[0].line == 4
    with pytest.raises(SchemeInvalid) as caught:
        scheme_from_dict({**data, "entity": "supplier"})
    assert caught.value.errors[0].line is None
    assert "entity" in str(caught.value)


def test_hash_ignores_layout_comments_key_order_and_spelled_defaults() -> None:
    reordered = """\
        # the same scheme, written differently
        tree: [{when: {eq: A, attr: abc}, segment: GOLD}, {segment: SILV}]
        classifiers:
          xyz: {thresholds: {Y: 1, X: 0.5}}
          abc: {thresholds: {B: 0.95, A: 0.80}}   # driver defaults to revenue
        segments: [{rank: 1, name: Gold, code: GOLD}, {code: SILV, rank: 2, name: Silver}]
        entity: customer
        name: Demo
        code: demo
        window: {months: 12}
        stability: {consecutive_runs: 1}
        """
    first, second = parse_scheme(BASE).scheme, parse_scheme(textwrap.dedent(reordered)).scheme
    assert content_hash(first) == content_hash(second)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", content_hash(first))
    changed = parse_scheme(BASE.replace("0.95", "0.9")).scheme
    assert content_hash(changed) != content_hash(first)
    canonical = scheme_to_dict(first)
    assert canonical["window"] == {"months": 12} and canonical["classifiers"]["abc"]["driver"]
    assert canonical["tree"][1] == {"segment": "SILV"}
    assert scheme_from_dict(canonical).scheme == first


# -- templates and JSON Schema ------------------------------------------------------------


def test_templates_parse_without_warnings() -> None:
    assert template_names() == [
        "customer_product",
        "customer_service",
        "lightweight",
        "product_abc_xyz",
    ]
    for name in template_names():
        parsed = parse_scheme(load_template(name))
        assert parsed.warnings == [], name
    with pytest.raises(KeyError):
        load_template("../pyproject")


def _check(instance: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:  # noqa: C901
    """A small JSON Schema checker for the keywords msgspec emits (jsonschema isn't a dep)."""
    if "$ref" in schema:
        return _check(instance, root["$defs"][schema["$ref"].split("/")[-1]], root, path)
    if "anyOf" in schema:
        results = [_check(instance, option, root, path) for option in schema["anyOf"]]
        return [] if any(not r for r in results) else min(results, key=len)
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if kind == "integer" and not (isinstance(instance, int) and not isinstance(instance, bool)):
        return [f"{path}: not an integer"]
    if kind == "number" and (isinstance(instance, bool) or not isinstance(instance, int | float)):
        return [f"{path}: not a number"]
    if kind in types and not isinstance(instance, types[kind]):
        return [f"{path}: not {kind}"]
    errors: list[str] = []
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: not in enum")
    if "pattern" in schema and not re.search(schema["pattern"], instance):
        errors.append(f"{path}: pattern")
    for key, test in (
        ("minimum", lambda v, m: v >= m),
        ("maximum", lambda v, m: v <= m),
        ("exclusiveMinimum", lambda v, m: v > m),
        ("exclusiveMaximum", lambda v, m: v < m),
    ):
        if key in schema and not test(instance, schema[key]):
            errors.append(f"{path}: {key}")
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        errors += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in instance]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}.{k}: unexpected" for k in instance if k not in properties]
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                errors += _check(value, sub, root, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            errors += _check(item, schema["items"], root, f"{path}[{i}]")
    return errors


def test_json_schema_accepts_templates_and_rejects_bad_documents() -> None:
    schema = scheme_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    for name in template_names():
        data = yaml.load(load_template(name), Loader=yaml.SafeLoader)
        assert _check(data, schema, schema, "$") == [], name
    bad = yaml.safe_load(BASE)
    bad["surprise"] = 1
    bad["window"] = {"months": 0}
    bad["segments"][0]["code"] = "gold"
    problems = _check(bad, schema, schema, "$")
    assert any("surprise" in p for p in problems)
    assert any("months" in p for p in problems)
    assert any("segments[0].code" in p for p in problems)


# -- schedule -----------------------------------------------------------------------------


def _scheduled(frequency: str, freeze: str = "") -> Any:
    text = BASE + f"schedule:\n  frequency: {frequency}\n" + freeze
    return parse_scheme(text).scheme


@pytest.mark.parametrize(
    ("frequency", "after", "expected"),
    [
        ("daily", datetime(2025, 3, 10, 1, 0, tzinfo=UTC), datetime(2025, 3, 10, 2, 0, tzinfo=UTC)),
        ("daily", datetime(2025, 3, 10, 2, 0, tzinfo=UTC), datetime(2025, 3, 11, 2, 0, tzinfo=UTC)),
        ("weekly", datetime(2025, 3, 10, 3, 0), datetime(2025, 3, 17, 2, 0, tzinfo=UTC)),
        (
            "monthly",
            datetime(2025, 12, 1, 2, 0, tzinfo=UTC),
            datetime(2026, 1, 1, 2, 0, tzinfo=UTC),
        ),
        (
            "monthly",
            datetime(2025, 3, 1, 1, 59, tzinfo=UTC),
            datetime(2025, 3, 1, 2, 0, tzinfo=UTC),
        ),
        ("quarterly", datetime(2025, 4, 2, tzinfo=UTC), datetime(2025, 7, 1, 2, 0, tzinfo=UTC)),
    ],
)
def test_next_run_after(frequency: str, after: datetime, expected: datetime) -> None:
    assert next_run_after(_scheduled(frequency), after) == expected


def test_manual_never_runs_by_itself() -> None:
    assert next_run_after(_scheduled("manual"), datetime(2025, 1, 1, tzinfo=UTC)) is None


def test_freeze_windows_skip_slots_and_may_wrap_the_year() -> None:
    peak = '  freeze:\n    - {from: "11-15", to: "01-05", reason: Peak}\n'
    scheme = _scheduled("monthly", peak)
    assert next_run_after(scheme, datetime(2025, 11, 2, tzinfo=UTC)) == datetime(
        2026, 2, 1, 2, 0, tzinfo=UTC
    )
    daily = _scheduled("daily", peak)
    assert next_run_after(daily, datetime(2025, 11, 14, 3, 0, tzinfo=UTC)) == datetime(
        2026, 1, 6, 2, 0, tzinfo=UTC
    )
    window = in_freeze(daily, date(2025, 12, 31))
    assert window is not None and window.reason == "Peak"
    assert in_freeze(daily, date(2026, 1, 5)) is not None
    assert in_freeze(daily, date(2026, 1, 6)) is None
    assert in_freeze(daily, date(2025, 11, 14)) is None


def test_freeze_all_year_means_no_run() -> None:
    scheme = _scheduled("weekly", '  freeze:\n    - {from: "01-01", to: "12-31"}\n')
    assert next_run_after(scheme, datetime(2025, 1, 1, tzinfo=UTC)) is None


def test_bad_freeze_dates() -> None:
    errors = errors_of(BASE + 'schedule:\n  freeze:\n    - {from: "13-01", to: "12-31"}\n')
    assert issue(errors, "schedule.freeze[0].from").line == 16
