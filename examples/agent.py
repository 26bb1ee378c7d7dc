"""A LangChain agent (`create_agent`) that answers from sleep-time notes, offline on the embedded model.

The sleeptime answer tool runs the wake graph over the app's own store; the retriever gives the
same notes to any chain. The README's "Inside a LangChain agent" section is this file.

Run with: python -m examples.agent [--model embedded:qwen2.5-coder-1.5b | openai:gpt-4.1-mini]
"""

from __future__ import annotations

import argparse

from langchain.agents import create_agent

from sleeptime import SleepTime
from sleeptime.integrations import LearnedContextRetriever, create_answer_tool
from sleeptime.models import resolve_chat_model

CONTEXT = "A shop sells pens at $2 each and notebooks at $4 each. Alice buys 3 pens and 2 notebooks."


def main(model_spec: str = "embedded:qwen2.5-coder-0.5b", store: str = ".sleeptime/agent-example") -> None:
    st = SleepTime(path=store, max_rounds=1, n_questions=2)
    st.sleep("shop", CONTEXT)  # while idle: notes and likely questions, published as a new version

    tool = create_answer_tool(st, "shop", return_direct=True)  # the tool's answer ends the run
    agent = create_agent(
        resolve_chat_model(model_spec),
        [tool],
        system_prompt="You are a helpful shop assistant. Use the tool to answer questions about the shop.",
    )
    result = agent.invoke({"messages": [{"role": "user", "content": "How much does Alice spend in total?"}]})
    answer = result["messages"][-1]
    print(f"agent: {answer.content}")
    print(f"served by: {getattr(answer, 'artifact', None)}")

    retriever = LearnedContextRetriever.from_app(st, "shop", k=1)
    for doc in retriever.invoke("How much is a notebook?"):
        print(f"retrieved {doc.metadata['kind']} (version {doc.metadata['version']}): {doc.page_content[:70]!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="embedded:qwen2.5-coder-0.5b", help="the agent's model spec")
    parser.add_argument("--store", default=".sleeptime/agent-example")
    args = parser.parse_args()
    main(args.model, args.store)
