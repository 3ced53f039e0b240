"""Service pricing within contracts: a staff page listing terms and clauses with forms to add
them, and ``/api/v1/analytics/price-terms`` and ``/price-clauses``. Reading needs
``analytics:read``, adding ``analytics:write``; a term or clause that would breach a contract
is refused (422, the customers and reasons named) and nothing is saved."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED

from tierline.analytics.pricing.rules import PriceClause, PriceTerm, percent
from tierline.analytics.pricing.store import (
    PriceClauseIn,
    PriceTermIn,
    PricingRefused,
    price_clauses,
    price_terms,
    save_clause,
    save_term,
)
from tierline.analytics.schemas import PriceClauseOut, PriceTermOut
from tierline.analytics.web import READ, WRITE, page_context
from tierline.platform.access import requires
from tierline.platform.identity.principal import Principal
from tierline.platform.identity.web import actor_of
from tierline.platform.pagination import PAGED, Page, PageRequest
from tierline.platform.routing import Api, StaffPages
from tierline.platform.tenancy import tenant_session
from tierline.segmentation.service import scheme_infos
from tierline.service_levels.service import FEATURES


def _term_out(t: PriceTerm) -> PriceTermOut:
    return PriceTermOut(
        id=t.id or 0, scheme_code=t.scheme_code, segment=t.segment, feature=t.feature,
        adjustment_bp=t.adjustment_bp, valid_from=t.valid_from, valid_to=t.valid_to, note=t.note,
    )  # fmt: skip


def _clause_out(c: PriceClause) -> PriceClauseOut:
    return PriceClauseOut(
        customer_code=c.customer_code, contract_reference=c.contract_reference,
        max_surcharge_bp=c.max_surcharge_bp, min_discount_bp=c.min_discount_bp,
    )  # fmt: skip


async def _page(
    request: Request[Any, Any, Any], principal: Principal, error: str | None, status: int = 200
) -> Template:
    async with tenant_session(principal.tenant) as s:
        terms = await price_terms(s)
        clauses = await price_clauses(s)
        schemes = await scheme_infos(s, entity="customer", published_only=True)
    context = page_context(
        request, principal, terms=terms, clauses=clauses, schemes=schemes, features=FEATURES,
        percent=percent, error=error, saved=request.query_params.get("saved") == "1",
    )  # fmt: skip
    return Template("analytics/pricing.html", context=context, status_code=status)


@get("/analytics/pricing", guards=[requires(READ)], operation_id="pricingPage")
async def pricing_page(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """Service surcharges and discounts, and the pricing clauses of contracts."""
    return await _page(request, principal, None)


def _int(raw: Any) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise PricingRefused(f"'{text[:20]}' is not a whole number of basis points") from None


def _day(raw: Any, name: str) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PricingRefused(f"{name}: '{text[:20]}' is not a date (YYYY-MM-DD)") from None


@post("/analytics/pricing", guards=[requires(WRITE)], operation_id="pricingPageSave")
async def pricing_form(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Response[Any]:
    """Add a term (``form=term``) or a clause (``form=clause``) from the page's forms."""
    form = await request.form()
    try:
        async with tenant_session(principal.tenant) as s:
            if form.get("form") == "clause":
                await save_clause(
                    s,
                    PriceClauseIn(
                        customer_code=str(form.get("customer_code", "")).strip()[:100],
                        contract_reference=str(form.get("contract_reference", "")).strip()[:100],
                        max_surcharge_bp=_int(form.get("max_surcharge_bp")),
                        min_discount_bp=_int(form.get("min_discount_bp")),
                    ),
                    actor_of(request, principal),
                )
            else:
                target = str(form.get("target", "")).strip()
                kind, _, value = target.partition(":")
                await save_term(
                    s,
                    PriceTermIn(
                        scheme_code=str(form.get("scheme_code", "")).strip()[:40],
                        segment=value[:20] if kind == "segment" else None,
                        feature=value[:40] if kind == "feature" else None,
                        adjustment_bp=_int(form.get("adjustment_bp")) or 0,
                        valid_from=_day(form.get("valid_from"), "valid from") or date.today(),
                        valid_to=_day(form.get("valid_to"), "valid to"),
                        note=str(form.get("note", "")).strip()[:500] or None,
                    ),
                    actor_of(request, principal),
                )
    except PricingRefused as exc:
        return await _page(request, principal, str(exc), 422)
    return Redirect(f"/t/{principal.tenant.slug}/analytics/pricing?saved=1", status_code=303)


@get(
    "/analytics/price-terms",
    guards=[requires(READ)],
    operation_id="listPriceTerms",
    dependencies=PAGED,
)
async def api_price_terms(
    principal: NamedDependency[Principal], page: NamedDependency[PageRequest]
) -> Page[PriceTermOut]:
    """Service surcharges and discounts, by id."""
    async with tenant_session(principal.tenant) as s:
        terms = [_term_out(t) for t in await price_terms(s)]
    return page.slice(sorted(terms, key=lambda t: t.id), lambda t: (t.id,))


@post(
    "/analytics/price-terms",
    guards=[requires(WRITE)],
    operation_id="createPriceTerm",
    status_code=HTTP_201_CREATED,
)
async def api_create_price_term(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: JSONBody[PriceTermIn],
) -> PriceTermOut:
    """Add a term; 422 when it would breach a contract's pricing clause (nothing saved)."""
    async with tenant_session(principal.tenant) as s:
        return _term_out(await save_term(s, data, actor_of(request, principal)))


@get(
    "/analytics/price-clauses",
    guards=[requires(READ)],
    operation_id="listPriceClauses",
    dependencies=PAGED,
)
async def api_price_clauses(
    principal: NamedDependency[Principal], page: NamedDependency[PageRequest]
) -> Page[PriceClauseOut]:
    """The pricing clauses of contracts, by contract reference."""
    async with tenant_session(principal.tenant) as s:
        clauses = [_clause_out(c) for c in await price_clauses(s)]
    ordered = sorted(clauses, key=lambda c: c.contract_reference)
    return page.slice(ordered, lambda c: (c.contract_reference,))


@post(
    "/analytics/price-clauses",
    guards=[requires(WRITE)],
    operation_id="savePriceClause",
)
async def api_save_price_clause(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    data: JSONBody[PriceClauseIn],
) -> PriceClauseOut:
    """Attach or replace the pricing clause of the customer's contract in force; 422 when the
    customer's pricing already breaches it (nothing saved)."""
    async with tenant_session(principal.tenant) as s:
        return _clause_out(await save_clause(s, data, actor_of(request, principal)))


ROUTES = [
    StaffPages(pricing_page, pricing_form),
    Api(api_price_terms, api_create_price_term, api_price_clauses, api_save_price_clause),
]
