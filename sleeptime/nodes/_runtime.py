"""What every node needs from the LangGraph runtime: the run config and the store (models: ``sleeptime.models``).

LangGraph itself turns a dict context into a `SleepTimeConfig` (validated by its constructor);
`config_of` only covers what LangGraph leaves: no context at all (the defaults) and a graph run
inside another graph's node without its own context, where LangGraph hands over the parent's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from langgraph.config import get_config
from langgraph.runtime import Runtime

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError, SleepTimeError
from sleeptime.ids import validate_id
from sleeptime.stores.learned import LearnedContextStore

_DEFAULT = SleepTimeConfig()
TENANT_PREFIX = "tenant:"
"""How `sleeptime.graphs.auth` writes a caller's identity (kept here so nodes need not import the server auth)."""


def config_of(runtime: Runtime[SleepTimeConfig]) -> SleepTimeConfig:
    """The run's config: the context, or the defaults when the run was given none. On a server with
    sleeptime's auth (`sleeptime.graphs.auth`) the tenant is the caller's, whatever the context says."""
    cfg = _context_config(runtime)
    tenant = _caller_tenant()
    if tenant is not None and cfg.tenant != tenant:
        return dataclasses.replace(cfg, tenant=tenant)
    return cfg


def _caller_tenant() -> str | None:
    """The authenticated server caller's tenant (identity ``tenant:<id>``), or None in process."""
    try:
        config = get_config()
    except RuntimeError:  # not inside a run
        return None
    user = (config.get("configurable") or {}).get("langgraph_auth_user")
    identity = getattr(user, "identity", None)
    if identity is None and isinstance(user, Mapping):
        identity = user.get("identity")
    if isinstance(identity, str) and identity.startswith(TENANT_PREFIX):
        return validate_id(identity[len(TENANT_PREFIX):], "tenant")
    return None


def _context_config(runtime: Runtime[SleepTimeConfig]) -> SleepTimeConfig:
    ctx: object = runtime.context
    if isinstance(ctx, SleepTimeConfig):
        return ctx
    if ctx is None:
        return _DEFAULT
    if isinstance(ctx, Mapping):  # a parent graph's dict context, handed down by LangGraph
        return SleepTimeConfig.from_mapping(ctx)
    raise InvalidInputError(
        f"the run context must be a SleepTimeConfig or a mapping of its fields, got {type(ctx).__name__}; "
        "when calling a sleeptime graph inside another graph, pass context=SleepTimeConfig(...)"
    )


def store_of(runtime: Runtime[SleepTimeConfig]) -> LearnedContextStore:
    """The run's context store (raw revisions, versions, parts) for the run's tenant."""
    if runtime.store is None:
        raise SleepTimeError(
            "this graph was compiled without a store: compile it with store=ChromaStore(...) "
            "(or any BaseStore), or use sleeptime.SleepTime which does"
        )
    # One per (store, tenant), shared by every node of every run: nodes never rebuild it.
    return LearnedContextStore.shared(runtime.store, config_of(runtime).tenant)
