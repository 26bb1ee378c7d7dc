"""LangChain drop-ins: the retriever over learned contexts and the answer tool."""

from __future__ import annotations

import json

from langchain_core.messages import ToolMessage
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import SleepTime
from sleeptime.integrations import LearnedContextRetriever, create_answer_tool

CONTEXT = "A shop sells pens at $2 each. Alice buys 3 pens and a notebook that costs $4."
QUESTIONS = json.dumps({"questions": [
    {"question": "How much does Alice pay for the pens?", "answer": "3 x 2 = 6"},
    {"question": "What colour is the notebook?", "answer": "unknown"},
]})


def test_retriever_returns_learned_context_and_nearest_questions(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    app.sleep("shop")
    docs = LearnedContextRetriever.from_app(app, "shop", k=2).invoke("How much does Alice pay for the pens?")
    assert [d.metadata["kind"] for d in docs] == ["learned", "question"]
    assert all(d.metadata["version"] == 2 and d.metadata["context_id"] == "shop" for d in docs)
    assert "3 x 2 = $6" in docs[0].page_content
    assert docs[1].metadata["question"] == "How much does Alice pay for the pens?"


def test_retriever_returns_k_documents_in_all(memory_store: InMemoryStore) -> None:
    from tests.scripts import staged_model

    model = staged_model(predict=QUESTIONS)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, n_questions=2)
    app.sleep("shop", CONTEXT)
    app.sleep("bakery", "Bread costs $3.")
    one = LearnedContextRetriever.from_app(app, "shop", k=1).invoke("How much does Alice pay for the pens?")
    assert [d.metadata["kind"] for d in one] == ["learned"], "k=1 is one document: the learned context"
    assert LearnedContextRetriever.from_app(app, "shop", k=0).invoke("pens") == []
    assert len(LearnedContextRetriever.from_app(app, "shop", k=10).invoke("pens")) == 3, "all there is: 1 + 2"
    both = LearnedContextRetriever.from_app(app, k=3).invoke("notebook colour?")
    assert [(d.metadata["context_id"], d.metadata["kind"]) for d in both] == [
        ("bakery", "learned"), ("shop", "learned"), ("bakery", "question")], "every context's best first"
    assert both[2].metadata["question"] == "What colour is the notebook?"


def test_retriever_picks_the_nearest_question(memory_store: InMemoryStore) -> None:
    from tests.scripts import staged_model

    model = staged_model(predict=QUESTIONS)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, n_questions=2)
    app.sleep("shop", CONTEXT)
    retriever = LearnedContextRetriever(store=memory_store, context_id="shop", k=1, include_learned=False)
    (doc,) = retriever.invoke("notebook colour?")
    assert doc.metadata["question"] == "What colour is the notebook?"


def test_retriever_over_all_contexts_skips_unslept_and_other_tenant(
    app: SleepTime, memory_store: InMemoryStore) -> None:
    app.sleep("shop", CONTEXT)
    app.sleep("bakery", "Bread costs $3.")
    app.ingest("unslept", "Nothing learned yet.")
    docs = LearnedContextRetriever(store=memory_store, include_questions=False).invoke("price")
    assert sorted(d.metadata["context_id"] for d in docs) == ["bakery", "shop"]
    assert LearnedContextRetriever(store=memory_store, tenant="other").invoke("price") == []


async def test_retriever_async_matches_sync(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    retriever = LearnedContextRetriever.from_app(app, "shop")
    assert await retriever.ainvoke("pens") == retriever.invoke("pens")


def test_answer_tool_returns_answer_and_version(app: SleepTime) -> None:
    app.sleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop")
    assert tool.name == "answer_from_learned_context" and "'shop'" in tool.description
    assert tool.invoke({"question": "How much does Alice pay?"}).endswith("The answer is 6.")
    message = tool.invoke({"type": "tool_call", "id": "c1", "name": tool.name,
                           "args": {"question": "How much does Alice pay?"}})
    assert isinstance(message, ToolMessage)
    assert message.text.endswith("The answer is 6.")
    assert message.artifact["version"] == 1 and message.artifact["route"] == "learned"
    assert message.artifact["context_id"] == "shop"


async def test_answer_tool_async(app: SleepTime) -> None:
    await app.asleep("shop", CONTEXT)
    tool = create_answer_tool(app, "shop", name="shop_facts", description="Facts about the shop.")
    message = await tool.ainvoke({"type": "tool_call", "id": "c1", "name": "shop_facts",
                                  "args": {"question": "How much?"}})
    assert message.artifact["version"] == 1 and tool.description == "Facts about the shop."
