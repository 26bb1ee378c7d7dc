"""The SWE-Features experiment: scoring, and the whole pipeline on a tiny made-up codebase (scripted model)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

from evals import exp_swe
from evals.options import parse_shard
from sleeptime.errors import ModelCallError


def test_predicted_files_map_names_onto_the_snapshot() -> None:
    known = ["click/core.py", "click/types.py", "click/_termui_impl.py"]
    answer = "Change click/core.py and types.py.\nAlso ./click/_termui_impl.py; not missing.py"
    assert exp_swe.predicted_files(answer, known) == ["click/core.py", "click/types.py", "click/_termui_impl.py"]


def test_f1_and_bootstrap() -> None:
    assert exp_swe.f1(["a.py", "b.py"], ["a.py"]) == 2 * 0.5 * 1 / 1.5
    assert exp_swe.f1([], ["a.py"]) == 0.0
    assert exp_swe.f1(["b.py"], ["a.py"]) == 0.0
    assert exp_swe.precision_recall(["a.py", "b.py", "c.py"], ["a.py", "d.py"]) == (1 / 3, 1 / 2)
    mean, lo, hi = exp_swe.bootstrap([0.0, 1.0, 1.0, 0.0])
    assert mean == 0.5 and 0.0 <= lo < mean < hi <= 1.0
    assert exp_swe.bootstrap([0.7] * 5) == (0.7, 0.7, 0.7)


def _dataset(root: Path) -> Path:
    src = root / "snapshots" / "click-1.0" / "click"
    src.mkdir(parents=True)
    for name, topic in [("core", "command context invoke"), ("termui", "pager echo prompt"),
                        ("exceptions", "usage error")]:
        body = "\n\n".join(f"def {name}_{i}():\n    '''{topic} helper {i}.'''\n    return {i}" for i in range(60))
        (src / f"{name}.py").write_text(body)
    tasks = [
        {"id": "t1", "snapshot": "click-1.0", "title": "pager fix", "changelog": ["Fix the pager echo."],
         "gold_files": ["click/termui.py"]},
        {"id": "t2", "snapshot": "click-1.0", "title": "invoke context", "changelog": [],
         "gold_files": ["click/core.py"]},
    ]
    (root / "tasks.jsonl").write_text("\n".join(json.dumps(t) for t in tasks) + "\n")
    return root


def test_pipeline_runs_resumes_and_summarizes(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    argv = ["--model", "scripted", "--data", str(data), "--out", str(out), "--store", str(tmp_path / "store"),
            "--budgets", "300,900"]
    exp_swe.main(argv)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {(r["id"], r["arm"]) for r in records} == {
        (t, a) for t in ("t1", "t2") for a in ("rag@300", "rag@900", "sleep@300", "sleep@900")
    }
    assert all(r["wake_in"] <= 900 + 400 for r in records)
    sleeps = [json.loads(line) for line in (out / "sleeps.jsonl").read_text().splitlines()]
    assert sleeps[-1]["resleep_in"] < sleeps[-1]["sleep_in"] / 2  # one changed file: one part re-reflected
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["arms"]) == {"rag@300", "rag@900", "sleep@300", "sleep@900"}
    for arm in summary["arms"].values():  # precision and recall are the per-task means F1 is built from
        assert 0 <= arm["precision"] <= 1 and 0 <= arm["recall"] <= 1 and arm["sources"] >= 1
    assert "texts.jsonl" in {p.name for p in out.iterdir()}
    exp_swe.main(argv)  # resumes: nothing new recorded
    assert len((out / "records.jsonl").read_text().splitlines()) == len(records)


def _counting(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> dict[str, int]:
    """Count the scripted model's part and reduce calls; with `fail_at`, the part call of that
    number raises (a run stopped in the middle of a sleep)."""
    from sleeptime.prompts import parts as parts_prompt

    counts = {"part": 0, "reduce": 0}
    reply = exp_swe._scripted_reply

    def counted(messages: list[BaseMessage]) -> str:
        if messages[0].text == parts_prompt.PART_SYSTEM:
            counts["part"] += 1
            if counts["part"] == fail_at:
                raise RuntimeError("stopped in the middle of the sleep")
        elif messages[0].text == parts_prompt.REDUCE_SYSTEM:
            counts["reduce"] += 1
        return reply(messages)

    monkeypatch.setattr(exp_swe, "_scripted_reply", counted)
    return counts


def _argv(tmp_path: Path, data: Path, *extra: str) -> list[str]:
    return ["--model", "scripted", "--data", str(data), "--out", str(tmp_path / "out"),
            "--store", str(tmp_path / "store"), "--budgets", "300", *extra]


def test_shards_split_the_tasks_share_one_sleep_and_a_final_run_resleeps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    counts = _counting(monkeypatch)
    exp_swe.main(_argv(tmp_path, data, "--shard", "1/2"))
    slept_parts = counts["part"]
    assert slept_parts > 0
    exp_swe.main(_argv(tmp_path, data, "--shard", "2/2"))
    assert counts["part"] == slept_parts  # the second shard found the snapshot slept in the store

    def ids(path: Path) -> set[str]:
        return {json.loads(line)["id"] for line in path.read_text().splitlines()}

    assert ids(out / "shards" / "1-of-2" / "records.jsonl") == {"t1"}
    assert ids(out / "shards" / "2-of-2" / "records.jsonl") == {"t2"}
    sleeps = [json.loads(line) for line in (out / "sleeps.jsonl").read_text().splitlines()]
    assert len(sleeps) == 1 and "resleep_in" not in sleeps[0]  # shards leave the store unchanged

    exp_swe.main(_argv(tmp_path, data))  # the finishing run: asks nothing again, re-sleeps, merges
    assert not (out / "records.jsonl").exists()
    sleeps = [json.loads(line) for line in (out / "sleeps.jsonl").read_text().splitlines()]
    assert "resleep_in" in sleeps[-1] and 0 < counts["part"] - slept_parts < slept_parts
    summary = json.loads((out / "summary.json").read_text())
    assert {arm: a["n"] for arm, a in summary["arms"].items()} == {"rag@300": 2, "sleep@300": 2}


def test_a_bad_shard_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="1 <= i <= n"):
        parse_shard("3/2")
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) == (1, 1)


def test_an_interrupted_run_resumes_without_sleeping_again_what_the_store_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    reference = _counting(monkeypatch)
    exp_swe.main(_argv(tmp_path / "ref", data, "--no-resleep"))
    total = reference["part"]

    counts = _counting(monkeypatch, fail_at=3)
    with pytest.raises(ModelCallError, match="RuntimeError: stopped in the middle of the sleep"):
        exp_swe.main(_argv(tmp_path, data, "--no-resleep"))
    store = exp_swe._SCRIPTED_STORES[str(tmp_path / "store" / "swe-click-1_0")]
    kept = len(store.search(("sleeptime", "default", "partnotes", "swe-click-1_0"), limit=1000))
    assert kept >= 2
    counts = _counting(monkeypatch)
    exp_swe.main(_argv(tmp_path, data, "--no-resleep"))
    assert counts["part"] == total - kept  # the notes the stopped sleep finished are reused
    first = json.loads((out / "sleeps.jsonl").read_text().splitlines()[0])

    (out / "sleeps.jsonl").unlink()  # stopped after publishing, before recording it
    counts = _counting(monkeypatch)
    exp_swe.main(_argv(tmp_path, data, "--no-resleep"))
    assert counts == {"part": 0, "reduce": 0}
    recovered = json.loads((out / "sleeps.jsonl").read_text().splitlines()[0])
    assert recovered["recovered"] and recovered["version"] == first["version"]
    assert recovered["sleep_in"] > 0 and recovered["chars"] == first["chars"]


def test_the_prior_floor_leaves_each_task_out() -> None:
    tasks = [{"id": "a", "gold_files": ["core.py"]}, {"id": "b", "gold_files": ["core.py", "types.py"]},
             {"id": "c", "gold_files": ["types.py"]}, {"id": "d", "gold_files": ["core.py"]}]
    prior = exp_swe.prior_files(tasks)
    # core.py is changed by three tasks, types.py by two; leaving "a" out makes it a tie, broken by name.
    assert prior == {"a": ["core.py"], "b": ["core.py"], "c": ["core.py"], "d": ["core.py"]}
    tasks.append({"id": "e", "gold_files": ["types.py"]})  # now 3 and 3: each task's own file loses a vote
    assert exp_swe.prior_files(tasks)["a"] == ["types.py"] and exp_swe.prior_files(tasks)["c"] == ["core.py"]


def test_summarize_pairs_sleep_with_rag_and_draws(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    (out / "shards" / "1-of-2").mkdir(parents=True)
    rows = [{"id": t, "snapshot": "click-1.0", "arm": f"{mode}@300", "f1": f1, "wake_in": 300, "wake_out": 5,
             "seconds": 1.0, "gold": ["a.py"], "predicted": ["a.py"] if f1 else ["b.py"], "n_sources": 3}
            for t, mode, f1 in [("t1", "rag", 0.0), ("t1", "sleep", 1.0), ("t2", "rag", 1.0), ("t2", "sleep", 1.0)]]
    (out / "shards" / "1-of-2" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    exp_swe.main(["--data", str(data), "--out", str(out), "--summarize"])  # no model, no store
    summary = json.loads((out / "summary.json").read_text())
    assert summary["paired"]["300"]["diff"] == 0.5
    assert (summary["arms"]["rag@300"]["precision"], summary["arms"]["sleep@300"]["recall"]) == (0.5, 1.0)
    assert (summary["paired"]["300"]["sleep_higher"], summary["paired"]["300"]["rag_higher"]) == (1, 0)
    assert summary["prior"]["n"] == 2  # t1 is answered with core.py (t2's file), t2 with termui.py
    assert summary["prior"]["f1"] == 0.0
    assert (out / "swe.png").stat().st_size > 1000
    assert not (tmp_path / "store").exists()


def test_a_task_whose_change_adds_a_file_is_asked_and_scored(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    added = {"id": "t3", "snapshot": "click-1.0", "title": "split helpers", "changelog": [],
             "gold_files": ["click/_helpers.py", "click/core.py"]}  # _helpers.py is not in the snapshot
    with (data / "tasks.jsonl").open("a") as f:
        f.write(json.dumps(added) + "\n")
    exp_swe.main(_argv(tmp_path, data, "--no-resleep"))
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["id"] for r in records} == {"t1", "t2", "t3"}
    assert all(r["gold"] == added["gold_files"] for r in records if r["id"] == "t3")
    # With --include, a reduced codebase keeps only the tasks whose files all lie in it.
    exp_swe.main(_argv(tmp_path / "reduced", data, "--no-resleep", "--include", "click/core.py"))
    reduced = (tmp_path / "reduced" / "out" / "records.jsonl").read_text().splitlines()
    assert {json.loads(line)["id"] for line in reduced} == {"t2"}


def test_baseline_arms_need_no_sleep_and_retrieval_recall_needs_no_model(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    common = ["--model", "scripted", "--data", str(data), "--out", str(out), "--store", str(tmp_path / "store")]
    exp_swe.main([*common, "--budgets", "300", "--arms", "rag,rag-hybrid"])
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in records} == {"rag@300", "rag-hybrid@300"}
    assert not (out / "sleeps.jsonl").exists()  # no sleep: nothing slept, nothing re-slept
    exp_swe.main([*common, "--retrieval"])
    rows = [json.loads(line) for line in (out / "retrieval.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in rows} == {"rag", "rag-hybrid"}  # no sleep output in the store: no sleep arm
    by = {(r["id"], r["arm"]): r for r in rows}
    assert by[("t1", "rag-hybrid")]["recall@5"] == 1.0  # "pager echo" names termui's words
    assert "recall@5" in (out / "retrieval.md").read_text()


def test_describe_parts_sleep_writes_a_map_and_no_reduce(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    exp_swe.main(["--model", "scripted", "--data", str(data), "--out", str(out), "--store", str(tmp_path / "store"),
                  "--budgets", "300", "--arms", "rag-hybrid,sleep", "--parts", "describe"])
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in records} == {"rag-hybrid@300", "sleep@300"}
    texts = [json.loads(line) for line in (out / "texts.jsonl").read_text().splitlines()]
    learned = next(t for t in texts if t.get("kind") == "sleep")["learned"][0]
    assert learned.startswith("Map of the files") and "click/core.py" in learned
    sleeps = [json.loads(line) for line in (out / "sleeps.jsonl").read_text().splitlines()]
    # one changed file: only its parts described again, and no reduce over all of them
    assert sleeps[-1]["resleep_in"] < sleeps[-1]["sleep_in"] / 2


def test_docs_experiment_scores_answers_and_cited_sources(tmp_path: Path) -> None:
    from evals import exp_docs

    q = {"answers": ["max_content_width"], "gold_files": ["documentation.md"]}
    assert exp_docs.matches("Use `max_content_width` (documentation.md).", q)
    assert not exp_docs.matches("Use max_content_widths.", q)
    assert exp_docs.matches("Pass \\b on its own line", {"answers": ["\\b"]})
    assert not exp_docs.matches("envvar only", {"answers": ["envvar", "auto_envvar_prefix"], "require_all": True})
    assert exp_docs.source_recall(["documentation.md:1-9", "notes on options.md:1-3"],
                                  ["documentation.md", "options.md"]) == 1.0
    assert exp_docs.source_recall(["a.md:1-2"], []) is None
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, topic in [("options.md", "envvar flag_value count"), ("testing.md", "CliRunner isolated_filesystem")]:
        (docs / name).write_text("\n\n".join(f"# {topic} {i}\n\nThe {topic} section {i}." for i in range(80)))
    out = tmp_path / "out"
    p = argparse.ArgumentParser()
    exp_docs.add_arguments(p)
    common = ["--model", "scripted", "--data", str(docs), "--out", str(out), "--store", str(tmp_path / "store"),
              "--limit", "3", "--budgets", "300"]
    exp_docs.run(p.parse_args([*common, "--retrieval"]))
    assert "rag-hybrid" in (out / "retrieval.md").read_text()
    exp_docs.run(p.parse_args(common))
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in records} == {"rag@300", "rag-hybrid@300", "sleep@300"}
    assert "sleep@300 - rag-hybrid@300" in (out / "summary.md").read_text()


def test_ranked_arms_answer_with_no_model_and_pair_with_sleep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    counts = _counting(monkeypatch)
    exp_swe.main(_argv(tmp_path, data, "--no-resleep", "--arms", "rank,sleep-rank", "--parts", "describe"))
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["arm"] for r in records} == {"rank@300", "sleep-rank@300"}
    assert all(r["wake_in"] == r["wake_out"] == 0 and r["model"] == "none" for r in records)
    assert all(len(r["predicted"]) == 1 for r in records)  # the best chunk's file
    by = {(r["id"], r["arm"]): r["predicted"] for r in records}
    assert by[("t1", "rank@300")] == ["click/termui.py"]  # "pager echo" is termui's topic
    assert counts["reduce"] == 0  # describe: no reduce; the sleep ran for sleep-rank
    summary = json.loads((out / "summary.json").read_text())
    assert "sleep-rank 300 vs rank" in summary["paired"]


def test_choose_arms_show_the_first_files_and_the_wake_pick_overrules_the_search(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    exp_swe.main(_argv(tmp_path, data, "--no-resleep", "--arms", "rank,choose,sleep-choose", "--parts", "describe"))
    records = {(r["id"], r["arm"]): r for r in map(json.loads, (out / "records.jsonl").read_text().splitlines())}
    texts = {(r["id"], r["arm"]): r for r in map(json.loads, (out / "texts.jsonl").read_text().splitlines())
             if "arm" in r}  # the sleep's own texts come first
    assert {arm for _, arm in records} == {"rank@300", "choose@300", "sleep-choose@300"}
    for task in ("t1", "t2"):
        shown = list(dict.fromkeys(texts[(task, "choose@300")]["sources"]))[: exp_swe.CANDIDATES]
        assert shown[0] == records[(task, "rank@300")]["predicted"][0]  # the same search as rank
        assert records[(task, "choose@300")]["predicted"] == shown[-1:]  # the scripted wake picks the last shown
        no_sleep, slept = texts[(task, "choose@300")]["answer"], texts[(task, "sleep-choose@300")]["answer"]
        assert "def " in no_sleep and "def " not in slept  # outlines without sleep, the sleep's descriptions with it
    summary = json.loads((out / "summary.json").read_text())
    assert "sleep-choose 300 vs choose" in summary["paired"]


def test_a_reused_sleep_is_not_counted_as_free(tmp_path: Path) -> None:
    data, out = _dataset(tmp_path / "data"), tmp_path / "out"
    out.mkdir()
    rows = [{"id": t, "snapshot": "click-1.0", "arm": f"{mode}@300", "f1": 1.0, "wake_in": 300, "wake_out": 5,
             "seconds": 1.0, "gold": ["a.py"], "predicted": ["a.py"], "n_sources": 3}
            for t in ("t1", "t2") for mode in ("rag", "sleep")]
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sleep = {"snapshot": "click-1.0", "model": "m", "include": [], "revision": 2, "chars": 10, "chunks": 1,
             "files": 1, "ingest_s": None, "sleep_s": None, "published": True, "version": 2, "recovered": True}
    (out / "sleeps.jsonl").write_text(json.dumps(sleep | {"sleep_in": 0, "sleep_out": 0}) + "\n")
    exp_swe.main(["--data", str(data), "--out", str(out), "--summarize"])
    arms = json.loads((out / "summary.json").read_text())["arms"]
    assert arms["sleep@300"]["sleep_amortized_tokens"] is None and arms["rag@300"]["sleep_amortized_tokens"] == 0
    assert "n/a (reused sleep)" in (out / "summary.md").read_text()
    (out / "sleeps.jsonl").write_text(json.dumps(sleep | {"sleep_in": 900, "sleep_out": 100}) + "\n")
    exp_swe.main(["--data", str(data), "--out", str(out), "--summarize"])  # recovered with its cost: shared by 2
    assert json.loads((out / "summary.json").read_text())["arms"]["sleep@300"]["sleep_amortized_tokens"] == 500


def test_part_questions_grow_the_describe_reply_cap_and_leave_the_default_as_it_was() -> None:
    from evals.exp_swe import part_style
    from sleeptime.experimental import OUTLINE

    assert part_style("outline") == OUTLINE
    assert part_style("outline", show_map=True).show_map
    ten = part_style("outline", questions=10)
    assert ten.questions == 10 and ten.outline and ten.max_tokens == 360
