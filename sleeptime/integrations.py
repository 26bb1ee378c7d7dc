"""LangChain drop-ins: a Retriever over learned contexts and predicted questions, and an answer Tool."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.store.base import BaseStore
from pydantic import ConfigDict

from sleeptime.stores.learned import LearnedContextStore

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sleeptime.facade import Answer, SleepTime

__all__ = ["LearnedContextRetriever", "create_answer_tool"]


class LearnedContextRetriever(BaseRetriever):
    """Documents from the published learned contexts of a tenant: for each context, its learned
    context (``kind="learned"``) and the predicted questions nearest the query (``kind="question"``,
    with the worked answer). Metadata: kind, version, context_id (and question/answer).

    At most ``k`` documents in all, as LangChain retrievers count: every context's learned context first, then
    each context's nearest question, then its second nearest, ... (contexts in their listed order), cut at ``k``.
    `context_id=None` searches every context of the tenant.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: BaseStore
    tenant: str = "default"
    context_id: str | None = None
    k: int = 4
    """Documents returned, at most (learned contexts and predicted questions together)."""
    include_learned: bool = True
    include_questions: bool = True

    @classmethod
    def from_app(cls, app: SleepTime, context_id: str | None = None, **kwargs: Any) -> LearnedContextRetriever:
        return cls(store=app.store, tenant=app.config.tenant, context_id=context_id, **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        store = LearnedContextStore.shared(self.store, self.tenant)
        ids = [self.context_id] if self.context_id is not None else store.list_contexts()
        if self.k <= 0:
            return []
        ranked: list[list[Document]] = []  # per context: its documents, best first
        for cid in ids:
            learned = store.latest(cid)
            if learned is None:
                continue
            meta = {"context_id": cid, "version": learned.version}
            docs: list[Document] = []
            if self.include_learned:
                docs.append(Document(page_content=learned.text, metadata={**meta, "kind": "learned"}))
            if self.include_questions and self.k > len(docs):
                for qa in store.nearest_questions(cid, learned.version, query, self.k - len(docs)):
                    docs.append(Document(
                        page_content=f"Q: {qa['question']}\nA: {qa['answer']}",
                        metadata={**meta, "kind": "question", "question": qa["question"], "answer": qa["answer"]},
                    ))
            ranked.append(docs)
        # Rank by rank: every context's first document, then every second one, ...
        merged = [docs[i] for i in range(max(map(len, ranked), default=0)) for docs in ranked if i < len(docs)]
        return merged[: self.k]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        import asyncio

        return await asyncio.to_thread(
            self._get_relevant_documents, query, run_manager=run_manager.get_sync()
        )


def _artifact(answer: Answer, context_id: str) -> dict[str, Any]:
    return {
        "context_id": context_id,
        "route": answer.route,
        "version": answer.version,
        "verdict": answer.verdict,
        "escalations": answer.escalations,
        "wake_tokens": answer.wake_usage.total_tokens,
    }


def create_answer_tool(
    app: SleepTime,
    context_id: str,
    *,
    name: str = "answer_from_learned_context",
    description: str | None = None,
    return_direct: bool = False,
) -> BaseTool:
    """A tool that answers a question about `context_id` from its learned context.

    The tool's content is the answer text; its artifact says which route and version served it.
    `return_direct=True` ends an agent's run with the tool's answer (no further model turn): the
    answer is already final, and small models may otherwise call the tool again instead of replying.
    The tool always uses `app`'s own store, whatever graph or agent runs it; its wake run is traced under the
    tool's run (the tool's callbacks, tags and metadata: nested in LangSmith or Studio).
    """

    # The tool's own run config is the current one while it runs (the `config` LangChain would inject is the
    # one it was called with, whose callbacks belong to the caller's run, not to the tool's).
    def answer(question: str) -> tuple[str, dict[str, Any]]:
        logger.debug("tool %s asked %r about %r", name, question, context_id)
        result = app.ask(question, context_id, config=ensure_config())
        return result.answer, _artifact(result, context_id)

    async def aanswer(question: str) -> tuple[str, dict[str, Any]]:
        result = await app.aask(question, context_id, config=ensure_config())
        return result.answer, _artifact(result, context_id)

    return StructuredTool.from_function(
        func=answer,
        coroutine=aanswer,
        name=name,
        description=description
        or f"Answer a question about {context_id!r} from notes prepared in advance. Input: the question.",
        response_format="content_and_artifact",
        return_direct=return_direct,
    )
