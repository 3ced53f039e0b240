"""The inventory policy document: how each segment is stocked, validated and hashed.

A document names the segmentation scheme whose segments it stocks, how an SKU-location that
serves customers of several segments gets its target, and per segment the policy type, the
service measure (its target comes from the segment's entitlement in force), the order
quantity rule and floors and caps. ``default`` covers SKU-locations without a segment.
Published versions are immutable; ``content_hash`` is a SHA-256 of the canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

import msgspec

from tierline.platform.errors import DomainError

PolicyTypeName = Literal["s_q", "r_s", "min_max"]
MeasureName = Literal["cycle_service_level", "fill_rate"]
TargetRule = Literal["product_segment", "highest_customer_segment", "demand_weighted"]
QuantityRule = Literal["days_of_demand", "units", "eoq"]

POLICY_TYPE_CODES = {"s_q": 0, "r_s": 1, "min_max": 2}
MEASURE_CODES = {"cycle_service_level": 0, "fill_rate": 1}
POLICY_TYPE_LABELS = {"s_q": "(s, Q)", "r_s": "(R, S)", "min_max": "min/max"}
MEASURE_LABELS = {"cycle_service_level": "cycle service level", "fill_rate": "fill rate"}
TARGET_RULE_LABELS = {
    "product_segment": "the product's segment",
    "highest_customer_segment": "the highest customer segment with a material share",
    "demand_weighted": "the demand-weighted mix of customer segments",
}


class _Doc(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class OrderQuantity(_Doc):
    """Q for (s, Q) and max − min for min/max: a fixed number of units, days of demand, or the
    economic order quantity √(2·D·S/H) with S per order and H per unit and year."""

    rule: QuantityRule = "days_of_demand"
    units: float | None = None
    days: float | None = None
    order_cost: float | None = None
    holding_cost_per_unit_year: float | None = None
    minimum_units: float = 1.0


class SegmentPolicy(_Doc):
    """How the SKU-locations of one segment are stocked."""

    segment: str
    policy_type: PolicyTypeName = "s_q"
    service_measure: MeasureName = "cycle_service_level"
    # A target written here overrides the entitlement (e.g. a segment without entitlements).
    target: float | None = None
    review_period_days: float = 0.0
    order_quantity: OrderQuantity = msgspec.field(default_factory=OrderQuantity)
    floor_units: float | None = None
    floor_days: float | None = None
    cap_units: float | None = None
    cap_days: float | None = None


PlacementMethod = Literal["per_location", "guaranteed_service"]


class BufferPlacement(_Doc):
    """How safety stock is placed over the echelons of a tree-shaped network.
    ``guaranteed_service``: customer-facing locations quote ``max_service_days`` to their
    customers, sources are promised ``supplier_service_days`` by outside suppliers, and the
    service times in between minimise the safety stock held (equal holding cost per unit)."""

    method: PlacementMethod = "per_location"
    max_service_days: int = 0
    supplier_service_days: int = 0


class PolicyDocument(_Doc):
    """A whole inventory policy (see the README's annotated example)."""

    scheme: str
    target_rule: TargetRule = "product_segment"
    material_share: float = 0.2
    period_days: int = 1
    history_days: int = 365
    min_lead_time_observations: int = 5
    fallback_lead_time_cv: float = 0.25
    # The planned lead time of lanes that have none (days); None refuses such SKU-locations.
    default_lead_time_days: float | None = None
    k_max: float = 4.0
    floor_k_at_zero: bool = True
    intermittent_distribution: Literal["gamma", "normal"] = "gamma"
    change_threshold: float = 0.25
    segments: list[SegmentPolicy] = msgspec.field(default_factory=list)
    default: SegmentPolicy | None = None
    # None (absent) is per-location placement; left out of the canonical form when absent so
    # the hashes of documents published before the option existed stay as they were.
    buffer_placement: BufferPlacement | None = None


class PolicyIssue(msgspec.Struct):
    """One problem with a document: where (a dotted path) and what."""

    path: str
    message: str


class PolicyInvalid(DomainError, ValueError):
    """The document cannot be used; ``issues`` says why, field by field."""

    status_code = 422
    title = "Inventory policy document invalid"

    def __init__(self, issues: list[PolicyIssue]) -> None:
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))
        self.issues = issues


def parse_document(data: Any) -> PolicyDocument:
    """A validated document from JSON-like data, or :class:`PolicyInvalid`."""
    try:
        doc = msgspec.convert(data, PolicyDocument)
    except msgspec.ValidationError as exc:
        path = str(exc).rsplit(" - at `", 1)
        where = path[1].rstrip("`").removeprefix("$.") if len(path) == 2 else "document"
        raise PolicyInvalid([PolicyIssue(where, path[0])]) from None
    issues = validate(doc)
    if issues:
        raise PolicyInvalid(issues)
    return doc


def _positive(issues: list[PolicyIssue], path: str, value: float | None) -> None:
    if value is not None and not value > 0:
        issues.append(PolicyIssue(path, f"must be more than 0 (got {value:g})"))


def _share(issues: list[PolicyIssue], path: str, value: float | None, closed: bool) -> None:
    if value is None:
        return
    if not (0 < value < 1 or (closed and value == 1)):
        interval = "(0, 1]" if closed else "(0, 1)"
        issues.append(PolicyIssue(path, f"must be a share in {interval} (got {value:g})"))


def _validate_segment(path: str, seg: SegmentPolicy, issues: list[PolicyIssue]) -> None:
    if seg.target is not None and not 0 < seg.target < 1:
        issues.append(
            PolicyIssue(
                f"{path}.target",
                "must be a share strictly between 0 and 1: a 100 % target needs unbounded "
                f"stock (got {seg.target:g})",
            )
        )
    if seg.policy_type in ("r_s", "min_max") and not seg.review_period_days > 0:
        issues.append(
            PolicyIssue(f"{path}.review_period_days", "periodic review needs a period above 0")
        )
    if seg.review_period_days < 0:
        issues.append(PolicyIssue(f"{path}.review_period_days", "must be 0 or more"))
    q = seg.order_quantity
    if seg.policy_type != "r_s":
        needed = {"units": ("units",), "days_of_demand": ("days",)}.get(
            q.rule, ("order_cost", "holding_cost_per_unit_year")
        )
        for name in needed:
            value = getattr(q, name)
            if value is None:
                issues.append(PolicyIssue(f"{path}.order_quantity.{name}", f"{q.rule} needs it"))
            _positive(issues, f"{path}.order_quantity.{name}", value)
    for name in ("floor_units", "floor_days", "cap_units", "cap_days"):
        value = getattr(seg, name)
        if value is not None and value < 0:
            issues.append(PolicyIssue(f"{path}.{name}", "must be 0 or more"))
    for unit in ("units", "days"):
        low, high = getattr(seg, f"floor_{unit}"), getattr(seg, f"cap_{unit}")
        if low is not None and high is not None and low > high:
            issues.append(PolicyIssue(f"{path}.floor_{unit}", f"is above cap_{unit}"))


def validate(doc: PolicyDocument) -> list[PolicyIssue]:
    """Every problem of a parsed document (empty when it can be published)."""
    issues: list[PolicyIssue] = []
    if not doc.scheme.strip():
        issues.append(PolicyIssue("scheme", "names the segmentation scheme whose segments"))
    _share(issues, "material_share", doc.material_share, closed=True)
    _share(issues, "fallback_lead_time_cv", doc.fallback_lead_time_cv, closed=True)
    if doc.period_days not in (1, 7):
        issues.append(PolicyIssue("period_days", "must be 1 (days) or 7 (weeks)"))
    if not 2 * doc.period_days <= doc.history_days <= 3 * 366:
        issues.append(PolicyIssue("history_days", "must cover 2 periods to 3 years"))
    if doc.min_lead_time_observations < 2:
        issues.append(PolicyIssue("min_lead_time_observations", "an SD needs 2 or more"))
    _positive(issues, "default_lead_time_days", doc.default_lead_time_days)
    if not 0 < doc.k_max <= 6:
        issues.append(PolicyIssue("k_max", "must be in (0, 6]"))
    if not doc.change_threshold >= 0:
        issues.append(PolicyIssue("change_threshold", "must be 0 or more"))
    seen: set[str] = set()
    for i, seg in enumerate(doc.segments):
        if seg.segment in seen:
            issues.append(PolicyIssue(f"segments[{i}].segment", f"{seg.segment} is listed twice"))
        seen.add(seg.segment)
        _validate_segment(f"segments[{i}]", seg, issues)
    if doc.default is not None:
        _validate_segment("default", doc.default, issues)
    if not doc.segments and doc.default is None:
        issues.append(PolicyIssue("segments", "list at least one segment or a default"))
    _validate_placement(doc.buffer_placement, issues)
    return issues


def _validate_placement(placement: BufferPlacement | None, issues: list[PolicyIssue]) -> None:
    if placement is None:
        return
    for name in ("max_service_days", "supplier_service_days"):
        if not 0 <= getattr(placement, name) <= 365:
            issues.append(PolicyIssue(f"buffer_placement.{name}", "must be 0 to 365 days"))


def document_dict(doc: PolicyDocument) -> dict[str, Any]:
    """The canonical JSON-like form (what is stored and hashed)."""
    out: dict[str, Any] = msgspec.to_builtins(doc)
    if out.get("buffer_placement") is None:
        out.pop("buffer_placement", None)
    return out


def content_hash(doc: PolicyDocument) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(document_dict(doc), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def policy_for(doc: PolicyDocument, segment: str | None) -> SegmentPolicy | None:
    """The segment's policy, the default for others, None if neither."""
    for seg in doc.segments:
        if seg.segment == segment:
            return seg
    return doc.default


def example_document(scheme: str, segments: list[str]) -> PolicyDocument:
    """A sensible starting document: the top segment on fill rate with (s, Q), the middle
    ones on cycle service level with (s, Q), the last on min/max reviewed weekly."""
    rows: list[SegmentPolicy] = []
    for i, code in enumerate(segments):
        last = i == len(segments) - 1 and len(segments) > 1
        rows.append(
            SegmentPolicy(
                segment=code,
                policy_type="min_max" if last else "s_q",
                service_measure="fill_rate" if i == 0 else "cycle_service_level",
                review_period_days=7.0 if last else 0.0,
                order_quantity=OrderQuantity(rule="days_of_demand", days=14.0 if i else 7.0),
                cap_days=60.0,
            )
        )
    default = SegmentPolicy(
        segment="*",
        policy_type="min_max",
        target=0.9,
        review_period_days=7.0,
        order_quantity=OrderQuantity(rule="days_of_demand", days=28.0),
    )
    return PolicyDocument(scheme=scheme, segments=rows, default=default)
