"""HTTP for the tenant lifecycle: the operator API and the tenant landing page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from litestar.status_codes import HTTP_202_ACCEPTED

from tierline.platform.access import OPERATOR, requires
from tierline.platform.databases import RegionUnavailable, ping
from tierline.platform.db import validate_slug
from tierline.platform.home import home_panels
from tierline.platform.identity.principal import Principal
from tierline.platform.jobs import get_control_job, submit_control_job
from tierline.platform.jobs.schemas import JobOut
from tierline.platform.pagination import PAGED, Page, PageRequest
from tierline.platform.routing import StaffPages
from tierline.platform.runtime import Runtime
from tierline.platform.tenant_directory import list_tenants
from tierline.tenants.errors import DuplicateTenant
from tierline.tenants.jobs import PROVISION
from tierline.tenants.schemas import TenantCreate, TenantOut
from tierline.tenants.service import validate_name


class TenantAdminController(Controller):
    """Platform-operator API: tenants are created asynchronously, with visible progress."""

    path = "/api/v1/tenants"
    guards = [requires(OPERATOR)]

    @get("/", operation_id="listTenants", dependencies=PAGED)
    async def list(self, state: State, page: PageRequest) -> Page[TenantOut]:
        """Every tenant by slug: its region, schema, status and schema revision."""
        infos = await list_tenants(state.runtime.databases)
        tenants = sorted((TenantOut(**vars(i)) for i in infos), key=lambda t: t.slug)
        return page.slice(tenants, lambda t: (t.slug,))

    @post("/", operation_id="createTenant", status_code=HTTP_202_ACCEPTED)
    async def create(self, data: JSONBody[TenantCreate], state: State) -> JobOut:
        """Validate, then queue provisioning; poll ``/api/v1/tenants/jobs/{id}`` for progress."""
        runtime: Runtime = state.runtime
        validate_slug(data.slug)
        name = validate_name(data.name)
        engine = runtime.databases.region(data.region)
        if any(t.slug == data.slug for t in await list_tenants(runtime.databases)):
            raise DuplicateTenant(data.slug)
        reason = await ping(engine)
        if reason is not None:
            raise RegionUnavailable(data.region, reason)
        row = await submit_control_job(
            runtime,
            PROVISION,
            {"slug": data.slug, "name": name, "region": data.region},
            key=data.slug,
            created_by="operator",
        )
        return JobOut(**row)

    @get("/jobs/{job_id:str}", operation_id="getProvisioningJob")
    async def job(self, job_id: FromPath[str], state: State) -> JobOut:
        """A provisioning job's status and progress (``result`` names the tenant once done)."""
        return JobOut(**await get_control_job(state.runtime, job_id))


@get(
    "/",
    guards=[requires("tenant:view")],
    operation_id="tenantHome",
)
async def tenant_home(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal]
) -> Template:
    """The signed-in home: the panels the domains show this user (the planner's dashboard),
    then the workspace's pages this user may open."""
    panels = await home_panels(request, principal, principal.tenant)
    return Template(
        "tenants/home.html",
        context={"tenant": principal.tenant, "principal": principal, "panels": panels},
    )


ROUTES = [TenantAdminController, StaffPages(tenant_home)]
