"""Tenants are explicit and every id follows one rule; cache names never collide (issue 30, items 2 and 8)."""

from __future__ import annotations

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.config import SleepTimeConfig
from sleeptime.errors import InvalidInputError
from sleeptime.facade import SleepTime
from sleeptime.ids import validate_id
from sleeptime.local.prefix_cache import PrefixCache, PrefixKey
from sleeptime.testing import HashEmbeddings
from tests.scripts import staged_model

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."


@pytest.fixture
def app() -> SleepTime:
    store = InMemoryStore(index={"dims": 64, "embed": HashEmbeddings(64), "fields": ["text", "question"]})
    model = staged_model()
    return SleepTime(store=store, sleep_model=model, wake_model=model, max_rounds=1, tenant="acme")


@pytest.mark.parametrize(("value", "says"), [
    ("", "non-empty"), ("   ", "non-empty"), ("x" * 201, "201 characters"), ("*", "wildcard"),
    ("a.b", "contains '.'"), ("a\nb", "U+000A"), ("a\x00b", "U+0000"), ("a\x1fb", "U+001F"),
    ("a\x7fb", "U+007F"), ("a\u200bb", "U+200B"), ("a\ud800b", "U+D800"), ("a\u2028b", "U+2028"),
])
def test_one_id_rule_says_what_it_rejects(value: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match="tenant") as caught:
        validate_id(value, "tenant")
    assert says in str(caught.value) and "printable" in str(caught.value)


@pytest.mark.parametrize("value", [b"shop", 7, None, ["shop"]])
def test_an_id_that_is_not_a_string_is_typed(value: object) -> None:
    with pytest.raises(InvalidInputError, match="context_id must be a string"):
        validate_id(value, "context_id")


@pytest.mark.parametrize("value", ["shop", "a b", "café", "a/b", "x" * 200, "租户-1"])
def test_ordinary_ids_pass(value: str) -> None:
    assert validate_id(value, "tenant") == value


@pytest.mark.parametrize("tenant", ["", " ", "a.b", "a\x1fb"])
def test_empty_or_invalid_tenant_is_refused_everywhere(app: SleepTime, tenant: str) -> None:
    app.sleep("shop", CONTEXT)  # the app's own tenant has something a fallback would reach
    calls = [
        lambda: app.ingest("shop", "Pens cost $9.", tenant=tenant),
        lambda: app.contexts(tenant=tenant),
        lambda: app.show("shop", tenant=tenant),
        lambda: app.learned("shop", tenant=tenant),
        lambda: app.delete("shop", tenant=tenant),
        lambda: app.delete("shop", version=1, tenant=tenant),
        lambda: app.learned_store(tenant),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match="tenant"):
            call()
    for name in ("sleep", "ask"):
        with pytest.raises(InvalidInputError, match="tenant"):
            getattr(app, name)(*(("shop",) if name == "sleep" else ("How much?", "shop")), tenant=tenant)
    # nothing of the app's own tenant was touched
    assert [c.context_id for c in app.contexts()] == ["shop"] and app.learned("shop") is not None
    assert app.show("shop").revision == 1


def test_config_tenant_follows_the_rule() -> None:
    for bad in ("", "a.b", "a\x1fb", 5):
        with pytest.raises(InvalidInputError, match="tenant"):
            SleepTimeConfig(tenant=bad)  # type: ignore[arg-type]


def test_tenant_none_means_the_apps_own(app: SleepTime) -> None:
    app.ingest("shop", CONTEXT)
    assert [c.context_id for c in app.contexts(tenant=None)] == ["shop"]
    assert app.contexts(tenant="other") == []


@pytest.mark.parametrize(("one", "other"), [
    (("a\x1fb", "c"), ("a", "b\x1fc")),  # the separator the old names joined with
    (('a","b', "c"), ("a", 'b","c')),    # the JSON encoding's own quoting
    (("a", "b-v1"), ("a-v1", "b")),
])
def test_cache_names_never_collide(one: tuple[str, str], other: tuple[str, str]) -> None:
    cache = PrefixCache(None)
    names = {cache.name(PrefixKey(t, c, v), "/no/model", n) for (t, c) in (one, other) for v in (1, 11) for n in (1, 2)}
    assert len(names) == 8
    assert cache._context_tag(PrefixKey(*one, 1)) != cache._context_tag(PrefixKey(*other, 1))
