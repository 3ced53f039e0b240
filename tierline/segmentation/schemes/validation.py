"""Rules across fields of a well-typed scheme: references, thresholds, reachability, value types.

Runs after ``shape`` found the types right, and collects every problem with its path.
Reachability is judged on the closed-domain attributes (abc, xyz, lifecycle, strategic): a rule
is unreachable when it follows an unconditional rule, or when earlier rules in its list (or the
rule that encloses it, or a lifecycle exception) already took every value it requires.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import UnsetType

from tierline.segmentation.schemes.conditions import (
    MEMBERSHIP,
    NUMERIC_OPERATORS,
    Attribute,
    Condition,
    lifecycle_attribute,
    resolve_attribute,
)
from tierline.segmentation.schemes.lines import join_path
from tierline.segmentation.schemes.model import Rule, Scheme

Found = list[tuple[str, str]]
Domains = dict[str, frozenset[object]]  # closed-domain attribute -> values still possible


class SchemeValidator:
    """Collects ``(path, message)`` errors and warnings for one decoded scheme."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.errors: Found = []
        self.warnings: Found = []
        self.segment_codes = {s.code for s in scheme.segments}
        self.assigned: set[str] = set()
        self.gotos: dict[str, set[str]] = {name: set() for name in scheme.subtrees}
        self.referenced_subtrees: set[str] = set()

    def run(self) -> tuple[Found, Found]:
        """Every check, in document order."""
        self._check_segments()
        self._check_thresholds()
        self._check_defaults()
        domains = self._check_exceptions()
        self._check_rules(self.scheme.tree, "tree", domains, owner=None)
        for name, rules in self.scheme.subtrees.items():
            self._check_rules(rules, join_path("subtrees", name), self._full_domains(), name)
        self._check_subtree_graph()
        for i, segment in enumerate(self.scheme.segments):
            if segment.code not in self.assigned:
                path = f"segments[{i}].code"
                self.warnings.append((path, f"Segment {segment.code} is never assigned"))
        return self.errors, self.warnings

    # -- segments, thresholds, defaults -------------------------------------------------

    def _check_segments(self) -> None:
        codes: dict[str, int] = {}
        ranks: dict[int, int] = {}
        for i, segment in enumerate(self.scheme.segments):
            if segment.code in codes:
                self.errors.append(
                    (f"segments[{i}].code", f"Duplicate segment code {segment.code}")
                )
            if segment.rank in ranks:
                first = self.scheme.segments[ranks[segment.rank]].code
                message = f"Duplicate rank {segment.rank} (already used by {first})"
                self.errors.append((f"segments[{i}].rank", message))
            codes.setdefault(segment.code, i)
            ranks.setdefault(segment.rank, i)

    def _check_thresholds(self) -> None:
        abc = self.scheme.classifiers.abc.thresholds
        if abc.a >= abc.b:
            message = f"Threshold B ({abc.b}) must be greater than A ({abc.a})"
            self.errors.append(("classifiers.abc.thresholds.B", message))
        xyz = self.scheme.classifiers.xyz
        if xyz is not None and xyz.thresholds.x >= xyz.thresholds.y:
            t = xyz.thresholds
            message = f"Threshold Y ({t.y}) must be greater than X ({t.x})"
            self.errors.append(("classifiers.xyz.thresholds.Y", message))

    def _check_defaults(self) -> None:
        for name, value in self.scheme.defaults.items():
            path = join_path("defaults", name)
            attribute = self._attribute(name, path)
            if attribute is None:
                continue
            if name in ("abc", "xyz"):
                self.errors.append((path, f"{name} is always computed and takes no default"))
                continue
            self._check_value(attribute, value, path)

    # -- exceptions ---------------------------------------------------------------------

    def _check_exceptions(self) -> Domains:
        """Check lifecycle exceptions; return the domains left for the tree."""
        domains = self._full_domains()
        if self.scheme.exceptions and self.scheme.entity == "customer":
            message = "Lifecycle exceptions need product attributes (entity product or pair)"
            self.errors.append(("exceptions", message))
            return domains
        lifecycle = lifecycle_attribute(self.scheme.entity)
        for i, exception in enumerate(self.scheme.exceptions):
            path = f"exceptions[{i}]"
            if exception.lifecycle not in domains[lifecycle]:
                message = f"Unreachable: lifecycle {exception.lifecycle} is already handled above"
                self.errors.append((join_path(path, "lifecycle"), message))
            if self._check_exception_action(i) or exception.otherwise is not None:
                domains[lifecycle] = domains[lifecycle] - {exception.lifecycle}
        return domains

    def _check_exception_action(self, i: int) -> bool:
        """Check one exception's segment / by+map; True when it decides every entity it sees."""
        exception = self.scheme.exceptions[i]
        path = f"exceptions[{i}]"
        uses_map = exception.by is not None or exception.mapping is not None
        if (exception.segment is None) == (not uses_map):
            message = "An exception needs either segment, or by + map (+ otherwise)"
            self.errors.append((path, message))
            return False
        if exception.segment is not None:
            self._segment_ref(exception.segment, join_path(path, "segment"))
            return True
        if exception.by is None or exception.mapping is None:
            self.errors.append((path, "by and map go together"))
            return False
        attribute = self._attribute(exception.by, join_path(path, "by"))
        for key, code in exception.mapping.items():
            if attribute is not None:
                self._check_value(attribute, key, join_path(path, f"map.{key}"))
            self._segment_ref(code, join_path(path, f"map.{key}"))
        if exception.otherwise is not None:
            self._segment_ref(exception.otherwise, join_path(path, "otherwise"))
        return False

    # -- rules --------------------------------------------------------------------------

    def _check_rules(
        self, rules: list[Rule], path: str, domains: Domains, owner: str | None
    ) -> None:
        unconditional_at: str | None = None
        for i, rule in enumerate(rules):
            rule_path = join_path(path, i)
            if unconditional_at is not None:
                message = f"Unreachable: follows the rule without a condition at {unconditional_at}"
                self.errors.append((rule_path, message))
            inner = dict(domains)
            if rule.when is None:
                unconditional_at = unconditional_at or rule_path
            else:
                when_path = join_path(rule_path, "when")
                if self._check_condition(rule.when, when_path):
                    inner = self._narrow(rule.when, when_path, domains)
                    domains = self._remove_caught(rule.when, domains)
            self._check_action(rule, rule_path, inner, owner)
        if rules and rules[-1].when is not None:
            message = "The last rule of a list must have no condition, so every entity is placed"
            self.errors.append((join_path(path, len(rules) - 1), message))

    def _check_action(self, rule: Rule, path: str, domains: Domains, owner: str | None) -> None:
        actions = [rule.segment is not None, rule.then is not None, rule.goto is not None]
        if sum(actions) != 1:
            self.errors.append((path, "A rule needs exactly one of segment, then, goto"))
        if rule.segment is not None:
            self._segment_ref(rule.segment, join_path(path, "segment"))
        if rule.then is not None:
            if not rule.then:
                self.errors.append((join_path(path, "then"), "then needs at least one rule"))
            self._check_rules(rule.then, join_path(path, "then"), domains, owner)
        if rule.goto is not None:
            if rule.goto not in self.scheme.subtrees:
                message = f"goto names an unknown subtree {rule.goto!r}"
                self.errors.append((join_path(path, "goto"), message))
            self.referenced_subtrees.add(rule.goto)
            if owner is not None:
                self.gotos[owner].add(rule.goto)

    def _check_subtree_graph(self) -> None:
        for name in self.scheme.subtrees:
            if name not in self.referenced_subtrees:
                message = f"Unreachable: subtree {name!r} is never the target of a goto"
                self.errors.append((join_path("subtrees", name), message))
        reported: set[frozenset[str]] = set()
        for name in self.scheme.subtrees:
            cycle = self._cycle_from(name, [name])
            if cycle and frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                message = "goto cycle: " + " -> ".join([*cycle, cycle[0]])
                self.errors.append((join_path("subtrees", name), message))

    def _cycle_from(self, start: str, trail: list[str]) -> list[str] | None:
        for target in sorted(self.gotos.get(trail[-1], ())):
            if target == start:
                return trail
            if target not in trail and target in self.gotos:
                found = self._cycle_from(start, [*trail, target])
                if found:
                    return found
        return None

    # -- conditions ---------------------------------------------------------------------

    def _check_condition(self, condition: Condition, path: str) -> bool:
        """Report problems in one condition tree; True when it is sound."""
        before = len(self.errors)
        groups = [name for name, _ in _groups(condition)]
        operators = condition.operators()
        if isinstance(condition.attr, str):
            if groups or len(operators) != 1:
                message = "A test needs attr plus exactly one of " + "/".join(_OPS)
                self.errors.append((path, message))
            else:
                self._check_leaf(condition.attr, *operators[0], path)
        elif operators or len(groups) != 1:
            self.errors.append((path, "A condition needs attr + operator, or one of all/any/not"))
        for name, children in _groups(condition):
            if not children:
                self.errors.append((join_path(path, name), f"{name} needs at least one condition"))
            for suffix, child in children:
                self._check_condition(child, join_path(path, suffix))
        return len(self.errors) == before

    def _check_leaf(self, name: str, op: str, value: object, path: str) -> None:
        attribute = self._attribute(name, join_path(path, "attr"))
        if attribute is None:
            return
        op_path = join_path(path, op)
        if op in NUMERIC_OPERATORS and attribute.type != "number":
            self.errors.append((op_path, f"{op} compares numbers; {name} is {attribute.type}"))
        elif op in MEMBERSHIP:
            assert isinstance(value, list)
            if not value:
                self.errors.append((op_path, f"{op} needs at least one value"))
            for j, item in enumerate(value):
                self._check_value(attribute, item, join_path(op_path, j))
        elif op != "is_null":
            self._check_value(attribute, value, op_path)

    def _check_value(self, attribute: Attribute, value: object, path: str) -> None:
        kind = attribute.type
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, float | int)):
            self.errors.append((path, f"{attribute.name} is a number, got {value!r}"))
        elif kind == "bool" and not isinstance(value, bool):
            self.errors.append((path, f"{attribute.name} is true or false, got {value!r}"))
        elif kind in ("string", "enum") and not isinstance(value, str):
            self.errors.append((path, f"{attribute.name} is text, got {value!r}"))
        elif kind == "enum" and value not in attribute.values:
            allowed = ", ".join(attribute.values)
            message = f"{attribute.name} is never {value!r} (values: {allowed})"
            self.errors.append((path, message))

    def _attribute(self, name: str, path: str) -> Attribute | None:
        has_xyz = self.scheme.classifiers.xyz is not None
        attribute = resolve_attribute(self.scheme.entity, name, has_xyz)
        if attribute is None:
            hint = " (declare classifiers.xyz to use it)" if name == "xyz" else ""
            message = f"Unknown attribute {name!r} for {self.scheme.entity} schemes{hint}"
            self.errors.append((path, message))
        return attribute

    def _segment_ref(self, code: str, path: str) -> None:
        self.assigned.add(code)
        if code not in self.segment_codes:
            self.errors.append((path, f"Segment {code} is not defined in segments"))

    # -- reachability on closed domains -------------------------------------------------

    def _full_domains(self) -> Domains:
        has_xyz = self.scheme.classifiers.xyz is not None
        names = ["abc", "xyz", "lifecycle", "strategic", "customer.strategic", "product.lifecycle"]
        domains: Domains = {}
        for name in names:
            attribute = resolve_attribute(self.scheme.entity, name, has_xyz)
            if attribute is not None and attribute.type == "enum":
                domains[name] = frozenset(attribute.values)
            elif attribute is not None and attribute.type == "bool":
                domains[name] = frozenset((True, False))
        return domains

    def _narrow(self, condition: Condition, path: str, domains: Domains) -> Domains:
        """Domains inside a rule whose condition holds; reports a condition that never can."""
        narrowed = dict(domains)
        for name, allowed in _requirement(condition, domains).items():
            narrowed[name] = domains[name] & allowed
            if not narrowed[name]:
                message = f"This condition can never match: no {name} value is left for it"
                self.errors.append((path, message))
        return narrowed

    def _remove_caught(self, condition: Condition, domains: Domains) -> Domains:
        """Domains after a rule that catches every entity with some values of one attribute."""
        caught = _single_attribute_test(condition, domains)
        if caught is None:
            return domains
        name, values = caught
        return {**domains, name: domains[name] - values}


_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "is_null")


def _groups(condition: Condition) -> Iterable[tuple[str, list[tuple[str, Condition]]]]:
    children = list(condition.children())
    for name, value in (("all", condition.all_), ("any", condition.any_)):
        if not isinstance(value, UnsetType):
            yield name, [(s, c) for s, c in children if s.startswith(name + "[")]
    if not isinstance(condition.not_, UnsetType):
        yield "not", [("not", condition.not_)]


def _single_attribute_test(
    condition: Condition, domains: Domains
) -> tuple[str, frozenset[object]] | None:
    """``(attr, values)`` when the condition is exactly "attr in values" on a closed domain."""
    if isinstance(condition.attr, str) and condition.attr in domains:
        op, value = condition.operators()[0]
        domain = domains[condition.attr]
        listed = frozenset(value) if isinstance(value, list) else frozenset([value])
        if op in ("eq", "in"):
            return condition.attr, listed
        if op in ("ne", "not_in"):
            return condition.attr, domain - listed
        return None
    parts = [_single_attribute_test(c, domains) for _, c in condition.children()]
    if not parts or any(p is None for p in parts) or len({p[0] for p in parts if p}) != 1:
        return None
    name = parts[0][0] if parts[0] else ""
    sets = [p[1] for p in parts if p]
    if not isinstance(condition.not_, UnsetType):
        return name, domains[name] - sets[0]
    if not isinstance(condition.all_, UnsetType):
        return name, frozenset.intersection(*sets)
    return name, frozenset.union(*sets)


def _requirement(condition: Condition, domains: Domains) -> Domains:
    """Values of closed-domain attributes that must hold for the condition to be true."""
    exact = _single_attribute_test(condition, domains)
    if exact is not None:
        return {exact[0]: exact[1]}
    if isinstance(condition.all_, UnsetType):
        return {}
    required: Domains = {}
    for child in condition.all_:
        for name, values in _requirement(child, domains).items():
            required[name] = required.get(name, domains[name]) & values
    return required
