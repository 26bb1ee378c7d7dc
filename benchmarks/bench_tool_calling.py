"""How often an embedded model calls the sleeptime answer tool correctly, as `create_agent` uses it.

For each of 20 user prompts about a shop (written for this benchmark), two agent turns:
1. the user's prompt: correct = exactly one call of ``answer_from_learned_context`` whose
   ``question`` argument is non-empty and shares a content word with the prompt;
2. the same conversation plus that call's result (a fixed, right answer for that prompt): correct =
   a direct reply (no further call, so the agent loop ends) that contains the result's answer.

The tool is bound exactly as `create_agent` binds it (``model.bind_tools(tools, tool_choice=None)``)
with the system prompt of the README example. No tool runs: the tool's result is fixed, so only
the model's choices are measured.

Run with (one core, one llama.cpp thread):
    taskset -c 1 .venv/bin/python benchmarks/bench_tool_calling.py --model embedded:qwen2.5-coder-0.5b
or over a server (its chat format decides how tools reach the model), e.g. llama-cpp-python's:
    python -m llama_cpp.server --model M.gguf --model_alias qwen --chat_format chatml-function-calling ...
    .venv/bin/python benchmarks/bench_tool_calling.py --model openai:qwen --base-url http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.store.memory import InMemoryStore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sleeptime import SleepTime, resolve_chat_model  # noqa: E402
from sleeptime.integrations import create_answer_tool  # noqa: E402
from sleeptime.testing import HashEmbeddings, ScriptedChatModel  # noqa: E402

SYSTEM = "You are a helpful shop assistant. Use the tool to answer questions about the shop."
# (prompt, the tool's fixed answer). The shop: pens $2, notebooks $4; Alice buys 3 pens and 2 notebooks.
PROMPTS = [
    ("How much does Alice spend in total?", "14"),
    ("What does one pen cost at the shop?", "2"),
    ("How much are the notebooks?", "4"),
    ("Can you tell me what Alice paid for her pens?", "6"),
    ("How many pens did Alice buy?", "3"),
    ("If I buy 5 pens, how much do I pay?", "10"),
    ("What is the price of two notebooks?", "8"),
    ("Does the shop sell notebooks?", "yes"),
    ("How much more does a notebook cost than a pen?", "2"),
    ("What did Alice buy at the shop?", "3 pens and 2 notebooks"),
    ("Please look up the total cost of Alice's purchase.", "14"),
    ("alice total spend?", "14"),
    ("How many items did Alice buy altogether?", "5"),
    ("Is a pen cheaper than a notebook?", "yes"),
    ("What would 10 pens and 1 notebook cost?", "24"),
    ("How much change does Alice get from $20?", "6"),
    ("Tell me the price list of the shop.", "pens $2 each, notebooks $4 each"),
    ("How much did Alice spend on notebooks?", "8"),
    ("What's the cost of 3 notebooks?", "12"),
    ("Could you check how much money Alice needs?", "14"),
]
_STOP = {"the", "a", "an", "of", "at", "is", "what", "how", "does", "did", "do", "i", "me", "for", "her", "to",
         "can", "you", "much", "many", "if", "from", "on", "in", "and", "please", "tell", "could", "would"}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


def first_turn_ok(prompt: str, reply: AIMessage, tool_name: str) -> tuple[bool, str]:
    if len(reply.tool_calls) != 1:
        return False, f"no call: {reply.text[:80]!r}" if not reply.invalid_tool_calls else "invalid call"
    call = reply.tool_calls[0]
    question = str(call["args"].get("question", ""))
    if call["name"] != tool_name or not question.strip():
        return False, f"bad call {json.dumps(call['args'])[:80]}"
    if not _words(question) & _words(prompt):
        return False, f"unrelated question {question[:80]!r}"
    return True, f"called with {question[:80]!r}"


def second_turn_ok(reply: AIMessage, gold: str) -> tuple[bool, str]:
    if reply.tool_calls or reply.invalid_tool_calls:
        return False, "called again"
    return (gold.lower() in reply.text.lower()), f"replied {reply.text[:80]!r}"


def run(spec: str, out: Path | None, base_url: str | None = None, limit: int | None = None) -> dict[str, Any]:
    # The tool's schema is all the model sees; the app behind it never runs here.
    scripted = ScriptedChatModel(default="unused")
    app = SleepTime(store=InMemoryStore(index={"dims": 16, "embed": HashEmbeddings(16), "fields": ["text"]}),
                    sleep_model=scripted, wake_model=scripted)
    tool = create_answer_tool(app, "shop")
    model = resolve_chat_model(spec, max_tokens=128, base_url=base_url).bind_tools([tool], tool_choice=None)
    rows = []
    started = time.monotonic()
    for prompt, gold in PROMPTS[:limit]:
        history: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(prompt)]
        t0 = time.monotonic()
        first = model.invoke(history)
        ok1, why1 = first_turn_ok(prompt, first, tool.name)
        call = first.tool_calls[0] if first.tool_calls else {"name": tool.name, "args": {"question": prompt},
                                                             "id": "call_fixed"}
        # The second turn always sees a well-formed call and its result, so it is measured on its own.
        called = AIMessage("", tool_calls=[{**call, "name": tool.name}])
        result = ToolMessage(f"The answer is {gold}.", tool_call_id=call["id"] or "call_fixed")
        second = model.invoke([*history, called, result])
        ok2, why2 = second_turn_ok(second, gold)
        rows.append({"prompt": prompt, "call_ok": ok1, "call": why1, "reply_ok": ok2, "reply": why2,
                     "seconds": round(time.monotonic() - t0, 1)})
        print(f"{'ok ' if ok1 else 'BAD'} {'ok ' if ok2 else 'BAD'} {prompt[:50]:50} | {why1} | {why2}", flush=True)
    summary = {
        "model": spec, "base_url": base_url, "prompts": len(rows),
        "correct_calls": sum(r["call_ok"] for r in rows),
        "correct_replies_after_result": sum(r["reply_ok"] for r in rows),
        "both": sum(r["call_ok"] and r["reply_ok"] for r in rows),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="embedded:qwen2.5-coder-0.5b")
    parser.add_argument("--out", type=Path, default=None, help="write the per-prompt rows as JSON here")
    parser.add_argument("--base-url", default=None, help="an OpenAI-compatible server, for --model openai:<name>")
    parser.add_argument("--limit", type=int, default=None, help="the first N prompts only")
    args = parser.parse_args(argv)
    run(args.model, args.out, args.base_url, args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
