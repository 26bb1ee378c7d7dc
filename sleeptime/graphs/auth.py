"""Who may touch which tenant on a LangGraph server: LangGraph custom auth, named in langgraph.json.

Authentication: a request carries an API key (``x-api-key: <key>``, which `langgraph_sdk` clients send
for ``api_key=...``, or ``Authorization: Bearer <key>``). Keys map to tenants through
``SLEEPTIME_API_KEYS``, a JSON object ``{"<key>": "<tenant>", ...}`` in the server's environment (or
``SLEEPTIME_API_KEYS_FILE``, a file holding it). No keys configured: every request is refused (401),
so a server never serves anyone anything by default. The caller's identity is ``tenant:<tenant>``.

Authorization, per resource:

- threads, runs, crons: created ones are stamped ``metadata.tenant``; reads, searches and runs see
  only the caller's (`{"tenant": ...}` filters); a run's context is given the caller's tenant, and a
  context naming another tenant is refused (403), so no run reaches another tenant's data;
- assistants: the graphs' own assistants are readable by every caller; creating, changing or
  deleting assistants is refused (an assistant's stored context could name a tenant);
- store: every namespace must begin ``("sleeptime", <caller's tenant>)``; a search or listing with a
  shorter prefix is narrowed to it; anything else is refused (403).

LangGraph Studio under ``langgraph dev`` authenticates as its own user; it is refused unless
``SLEEPTIME_STUDIO_TENANT`` names the tenant it may use (local development only: in ``langgraph dev``
any request with the header ``x-auth-scheme: langsmith`` is taken for Studio, so bind to 127.0.0.1).
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth

from sleeptime.errors import InvalidInputError
from sleeptime.ids import validate_id
from sleeptime.nodes._runtime import TENANT_PREFIX
from sleeptime.stores.layout import ROOT

__all__ = ["TENANT_PREFIX", "auth", "load_keys", "tenant_of"]

_STUDIO_IDENTITY = "langgraph-studio-user"

auth = Auth()


def load_keys(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """API key -> tenant from ``SLEEPTIME_API_KEYS`` (JSON) or the file ``SLEEPTIME_API_KEYS_FILE``."""
    env = os.environ if env is None else env
    raw = env.get("SLEEPTIME_API_KEYS")
    if raw is None and env.get("SLEEPTIME_API_KEYS_FILE"):
        raw = Path(env["SLEEPTIME_API_KEYS_FILE"]).read_text(encoding="utf-8")
    if not raw:
        return {}
    try:
        keys = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"SLEEPTIME_API_KEYS is not JSON: {error}") from None
    if not isinstance(keys, dict) or not all(isinstance(k, str) and len(k) >= 16 for k in keys):
        raise InvalidInputError('SLEEPTIME_API_KEYS must be a JSON object {"<key of 16+ chars>": "<tenant>", ...}')
    return {k: validate_id(t, "tenant") for k, t in keys.items()}


def _denied(status: int, detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(status_code=status, detail=detail)


@auth.authenticate
async def authenticate(headers: dict[bytes, bytes], authorization: str | None) -> Auth.types.MinimalUserDict:
    key = headers.get(b"x-api-key", b"").decode("utf-8", "replace").strip()
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    keys = load_keys()
    if not keys:
        raise _denied(401, "this server has no API keys configured (SLEEPTIME_API_KEYS): every request is refused")
    tenant = next((t for k, t in keys.items() if hmac.compare_digest(k.encode(), key.encode())), None)
    if tenant is None:
        raise _denied(401, "missing or unknown API key (send x-api-key: <key>)")
    return {"identity": TENANT_PREFIX + tenant, "display_name": tenant, "permissions": []}


def tenant_of(user: Any) -> str | None:
    """The tenant a server user may use: ours carry it in the identity; Studio gets
    ``SLEEPTIME_STUDIO_TENANT`` when set; anyone else None."""
    identity = getattr(user, "identity", None)
    if identity is None and isinstance(user, Mapping):
        identity = user.get("identity")
    if not isinstance(identity, str):
        return None
    if identity.startswith(TENANT_PREFIX):
        return identity[len(TENANT_PREFIX):]
    if identity == _STUDIO_IDENTITY and os.environ.get("SLEEPTIME_STUDIO_TENANT"):
        return validate_id(os.environ["SLEEPTIME_STUDIO_TENANT"], "SLEEPTIME_STUDIO_TENANT")
    return None


def _tenant(ctx: Auth.types.AuthContext) -> str:
    tenant = tenant_of(ctx.user)
    if tenant is None:
        raise _denied(403, "this caller has no tenant (Studio needs SLEEPTIME_STUDIO_TENANT)")
    return tenant


def _stamp(value: Any, tenant: str) -> None:
    """Put the tenant in the resource's metadata, in place (the server keeps using the dict it passed)."""
    if isinstance(value, dict) and "metadata" in value:
        if isinstance(value["metadata"], dict):
            value["metadata"]["tenant"] = tenant
        else:
            value["metadata"] = {"tenant": tenant}


@auth.on
async def own_tenant_only(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType:
    """Threads, runs and crons: stamped with the caller's tenant, filtered to it."""
    tenant = _tenant(ctx)
    if ctx.action in ("create", "create_run", "update"):
        _stamp(value, tenant)
    return {"tenant": tenant}


@auth.on.threads.create_run
async def run_as_own_tenant(ctx: Auth.types.AuthContext, value: Auth.types.RunsCreate) -> Auth.types.FilterType:
    """A run's context gets the caller's tenant; naming another one is refused."""
    tenant = _tenant(ctx)
    _stamp(value, tenant)
    kwargs = value.get("kwargs")
    if isinstance(kwargs, dict):
        context = kwargs.get("context")
        if isinstance(context, dict) and context.get("tenant", tenant) != tenant:
            raise _denied(403, f"this caller may use tenant {tenant!r} only, not {context.get('tenant')!r}")
        kwargs["context"] = {**(context if isinstance(context, dict) else {}), "tenant": tenant}
    return {"tenant": tenant}


@auth.on.assistants
async def assistants_read_only(ctx: Auth.types.AuthContext, value: Any) -> bool:
    _tenant(ctx)
    if ctx.action in ("read", "search"):
        return True
    raise _denied(403, "assistants are shared by every tenant and cannot be created, changed or deleted here")


@auth.on.store
async def own_namespaces_only(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Store items of the caller's tenant only: ("sleeptime", tenant, ...)."""
    own = (ROOT, _tenant(ctx))
    namespace = tuple(value.get("namespace") or ())
    if namespace[:2] == own:
        return
    if ctx.action in ("search", "list_namespaces") and namespace == own[: len(namespace)]:
        value["namespace"] = own  # a broader prefix is narrowed to the caller's own items
        return
    raise _denied(403, f"store namespaces of this caller begin {own!r}")
