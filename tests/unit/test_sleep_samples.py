"""The sleep graph with checked notes: k samples as a Send fan-out, merge, truncation and shortfall reports."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from langgraph.store.memory import InMemoryStore

from sleeptime.facade import SleepTime
from sleeptime.notes.quantities import CheckedNotes, Rejected
from sleeptime.notes.strategies import (
    CONCAT,
    EXTEND,
    MAJORITY,
    RECONCILE,
    WORKED,
    Experiment,
    NotesStyle,
    SampleMerge,
)
from tests.scripts import staged_model

CONTEXT = "A bakery baked 72 muffins. It sold 64 of them by closing time. The rest went to a shelter."

SAMPLE_A = "baked = 72\nsold = 64\nshelter = baked - sold = 9\nSTATUS: DONE"
SAMPLE_B = "muffins_baked = 72\nsold = 64\nshelter = muffins_baked - sold\nSTATUS: DONE"
SAMPLE_C = "baked = 72\nsold = 60\nshelter = baked - sold\nSTATUS: DONE"


def test_three_samples_fan_out_and_merge_by_majority(memory_store: InMemoryStore) -> None:
    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3, n_questions=1,
                    experiment=Experiment(sample_merge=MAJORITY))
    result = app.sleep("bakery", CONTEXT)
    assert len(model.calls_for("reflect")) == 3  # one task a sample, each said DONE in its first round
    assert len(result.learned) == 1
    lines = result.learned[0].splitlines()
    assert "- baked = 72 (agreed)" in lines
    assert "- sold = 64 (agreed)" in lines
    # 8 wins 2 to 1 (the model's own claim of 9 was never used); sold = 60 and shelter = 12 are dropped.
    # Which sample's wording comes first depends on which parallel task got which reply.
    shelter = [line for line in lines if line.startswith("- shelter = ")]
    assert len(shelter) == 1 and shelter[0].endswith(" - sold = 72 - 64 = 8 (agreed)")
    assert "60" not in result.learned[0] and "12" not in result.learned[0]
    assert "dropped by the 3-sample merge" in result.status
    # Predict is given the checked lines.
    assert shelter[0][2:] in model.calls_for("predict")[0][-1].text


def test_concat_merge_publishes_what_only_one_sample_computed(memory_store: InMemoryStore) -> None:
    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3, n_questions=1,
                    experiment=Experiment(sample_merge=CONCAT))
    lines = app.sleep("bakery", CONTEXT).learned[0].splitlines()
    assert "- baked = 72 (agreed)" in lines and "- sold = 64 (agreed)" in lines
    # The minority sample is kept, not agreed: the samples' disagreement on sold is left for the wake model.
    assert "- sold = 60" in lines and "- shelter = baked - sold = 72 - 60 = 12" in lines
    assert sum(line.startswith("- shelter = ") for line in lines) == 2  # 8 (agreed, two samples) and 12


def test_a_sleep_result_keeps_each_samples_notes_and_they_merge_to_what_was_published(
    memory_store: InMemoryStore,
) -> None:
    from sleeptime.notes.quantities import check_notes

    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3, n_questions=1,
                    experiment=Experiment(sample_merge=CONCAT))
    result = app.sleep("bakery", CONTEXT)
    assert len(result.samples) == 3
    # checked notes, one per reply (which reply went to which sample depends on the parallel tasks)
    assert sorted("sold = 60" in s for s in result.samples) == [False, False, True]
    assert all("STATUS" not in s and "= 9" not in s for s in result.samples)
    # what a replay needs: the samples, re-merged by the run's rule, give the published notes exactly
    merged, _ = CONCAT([check_notes(s) for s in result.samples])
    assert [merged.render()] == result.learned
    assert RECONCILE([check_notes(s) for s in result.samples])[0].render() != result.learned[0]


def test_reconcile_merge_reaches_the_sleep_graph_and_is_not_the_default(memory_store: InMemoryStore) -> None:
    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3, n_questions=1,
                    experiment=Experiment(sample_merge=RECONCILE))
    result = app.sleep("bakery", CONTEXT)
    lines = result.learned[0].splitlines()
    # 72 is kept once whichever name the first sample gave it; sold 64 and shelter 8 win 2 to 1.
    assert sum(line.endswith(" = 72 (agreed)") for line in lines) == 1 and "- sold = 64 (agreed)" in lines
    shelter = [line for line in lines if line.startswith("- shelter = ")]
    assert len(shelter) == 1 and shelter[0].endswith(" - sold = 72 - 64 = 8 (agreed)")
    assert "60" not in result.learned[0] and "12" not in result.learned[0]
    assert "dropped by the 3-sample merge" in result.status
    assert Experiment().sample_merge is CONCAT


def test_each_sample_runs_its_own_rounds(memory_store: InMemoryStore) -> None:
    rounds = ["a = 1\nSTATUS: CONTINUE", "a = 1\nb = a + 1\nSTATUS: DONE"]
    model = staged_model(reflect=rounds)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=3, n_questions=1)
    result = app.sleep("bakery", CONTEXT)
    calls = model.calls_for("reflect")
    assert len(calls) == 2
    assert "- a = 1" in calls[1][-1].text  # the second round sees the checked notes
    assert result.learned == ["- a = 1\n- b = a + 1 = 1 + 1 = 2"]


def test_the_extend_rethink_runs_every_round_and_keeps_what_it_does_not_repeat(memory_store: InMemoryStore) -> None:
    # Round 1 says DONE; EXTEND runs round 2 anyway, which corrects sold and adds shelter; baked is kept.
    rounds = ["baked = 72\nsold = 60\nSTATUS: DONE", "sold = 64\nshelter = baked - sold\nSTATUS: DONE"]
    model = staged_model(reflect=rounds)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=2, n_questions=1,
                    experiment=Experiment(rethink=EXTEND))
    result = app.sleep("bakery", CONTEXT)
    calls = model.calls_for("reflect")
    assert len(calls) == 2
    assert "Check the notes against the situation, then extend them" in calls[1][-1].text
    assert "- sold = 60" in calls[1][-1].text  # round 2 reads round 1's notes
    assert result.learned == ["- baked = 72\n- sold = 64\n- shelter = baked - sold = 72 - 64 = 8"]
    # The default rewrite stops when the model says DONE.
    model = staged_model(reflect=rounds)
    SleepTime(store=InMemoryStore(), sleep_model=model, wake_model=model, max_rounds=2, n_questions=1).sleep(
        "bakery", CONTEXT)
    assert len(model.calls_for("reflect")) == 1


def test_cut_off_notes_are_continued_then_reported(memory_store: InMemoryStore) -> None:
    long_reply = "baked = 72\nsold = 64\nshelter = baked - sold\nleft = 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1"
    model = staged_model(reflect=long_reply)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_rounds=1,
                    max_tokens_sleep=12, n_questions=1)
    result = app.sleep("bakery", CONTEXT)
    assert len(model.calls_for("reflect")) == 2  # the reply and one continuation
    assert "cut off at max_tokens_sleep" in result.status
    assert "1 + 1 + 1" not in result.learned[0]  # the unfinished last line is not published


def test_fewer_predicted_questions_than_asked_is_reported(memory_store: InMemoryStore) -> None:
    model = staged_model(reflect=SAMPLE_B)  # the default predict reply has one question
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, n_questions=3)
    result = app.sleep("bakery", CONTEXT)
    assert len(result.questions) == 1
    assert "1 of 3 predicted questions" in result.status


def test_unsafe_and_copied_lines_never_reach_the_store(memory_store: InMemoryStore) -> None:
    reply = (
        "x = __import__('os').system('true')\n"
        "y = (1).real\n"
        "z = 9 ** 9 ** 9\n"
        "w = 1 / 0\n"
        "A bakery baked 72 muffins.\n"
        "<label_one> = <number>\n"
        + "\n".join(f"q{i} = {i}" for i in range(10_000))
        + "\nSTATUS: DONE"
    )
    model = staged_model(reflect=reply)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, max_tokens_sleep=100_000,
                    learned_max_chars=100_000, n_questions=1)
    result = app.sleep("bakery", CONTEXT)
    learned = result.learned[0]
    assert result.published
    for bad in ("import", "real", "9 ** 9", "1 / 0", "baked 72 muffins", "<label"):
        assert bad not in learned
    assert learned.startswith("- q0 = 0\n")


def test_a_sleep_whose_notes_all_fail_checking_publishes_nothing(memory_store: InMemoryStore) -> None:
    good = staged_model(reflect="muffins_left = 72 - 64\nSTATUS: DONE")
    app = SleepTime(store=memory_store, sleep_model=good, wake_model=good, n_questions=1)
    first = app.sleep("bakery", CONTEXT)
    assert first.published and first.version == 1
    app.ingest("bakery", CONTEXT + " It also baked 10 pies.")
    bad = staged_model(reflect="A bakery baked 72 muffins.\nSTATUS: DONE")  # a copy of the context: dropped
    result = SleepTime(store=memory_store, sleep_model=bad, wake_model=bad, n_questions=1).sleep("bakery")
    assert not result.published and result.version is None
    assert result.status == "not published: no note survived checking; version 1 stays published"
    assert result.learned == [] and result.questions == []
    assert result.usage.calls == 1 and result.usage.output_tokens > 0, "the reflect call is counted; no predict"
    kept = app.learned("bakery")
    assert kept is not None and kept.version == 1 and kept.text == "- muffins_left = 72 - 64 = 8"
    assert app.learned_store().versions("bakery") == [1]


def test_a_first_sleep_with_nothing_checked_leaves_the_context_unslept(
    memory_store: InMemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    model = staged_model(reflect="A bakery baked 72 muffins.\nSTATUS: DONE")
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, n_questions=1)
    with caplog.at_level(logging.DEBUG, logger="sleeptime.nodes.sleep.reflect"):
        result = app.sleep("bakery", CONTEXT)
    assert not result.published
    assert "reflect sample 0 round 1 dropped (copies the context): A bakery baked 72 muffins." in caplog.text
    assert result.status == "not published: no note survived checking"
    assert app.learned("bakery") is None
    answer = app.ask("How many muffins are left?", "bakery")
    assert answer.route == "test-time" and answer.reason.startswith("no published learned context")


def test_worked_style_publishes_unreadable_lines_and_says_how_many(memory_store: InMemoryStore) -> None:
    reply = (
        "1. Muffins left = muffins baked - muffins sold = 72 - 64 = 9\n"
        "2. Share sold = most of them, about nine in ten\n"
        "3. Shelter muffins: 8 x 1 = 7\n"
        "STATUS: DONE"
    )
    model = staged_model(reflect=reply)
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, experiment=Experiment(WORKED),
                    n_questions=1)
    result = app.sleep("bakery", CONTEXT)
    assert "numbered list" in model.calls_for("reflect")[0][-1].text  # the worked prompt was sent
    assert result.learned == ["- muffins_left = 72 - 64 = 8\n- Share sold = most of them, about nine in ten"]
    assert "1 note lines published unchecked" in result.status
    # The expressions style drops the line it cannot read, and says nothing about unchecked lines.
    strict = SleepTime(store=memory_store, sleep_model=staged_model(reflect=reply), wake_model=model, n_questions=1)
    again = strict.sleep("bakery-2", CONTEXT)
    assert again.learned == ["- muffins_left = 72 - 64 = 8"] and "unchecked" not in again.status


def test_a_custom_notes_style_and_merge_reach_the_sleep_graph(memory_store: InMemoryStore) -> None:
    seen: list[int] = []

    def first_only(samples: Sequence[CheckedNotes]) -> tuple[CheckedNotes, list[Rejected]]:
        seen.append(len(samples))
        return samples[0], []

    style = NotesStyle("terse", "Notes on {context} (so far {notes}, {max_chars} chars). STATUS: DONE when done.",
                       keep_unchecked=False)
    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3, n_questions=1,
                    experiment=Experiment(style, SampleMerge("first", first_only)))
    learned = app.sleep("bakery", CONTEXT).learned[0]
    assert model.calls_for("reflect")[0][-1].text.startswith("Notes on ")
    assert seen == [3] and "(agreed)" not in learned  # the custom rule merged, not the majority one


def test_level4_question_work_answers_each_predicted_question_in_its_own_call(memory_store: InMemoryStore) -> None:
    from sleeptime.notes.strategies import LEVEL4

    listed = "1. How many muffins went to the shelter?\n2. How many were sold?\n3. How many were sold?"
    model = staged_model(reflect=[SAMPLE_A], predict=[listed, "Step 1: 72 - 64 = 8.\n8", "64"])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, n_questions=2,
                    experiment=Experiment(question_work=LEVEL4))
    result = app.sleep("bakery", CONTEXT)
    calls = model.calls_for("predict")
    assert len(calls) == 3  # the list, then one level-4 answer per distinct question
    assert "Reason step by step" in calls[1][-1].text and "How many muffins went to the shelter?" in calls[1][-1].text
    assert "- baked = 72" in calls[1][-1].text  # worked with the notes
    assert [dict(q) for q in result.questions] == [
        {"question": "How many muffins went to the shelter?", "answer": "Step 1: 72 - 64 = 8.\n8", "sample": 0},
        {"question": "How many were sold?", "answer": "64", "sample": 0}]
    assert result.usage.calls >= 4  # the reflect call and the three predict calls are all sleep tokens


def test_level4_question_work_on_k_samples_pools_each_samples_own_questions(memory_store: InMemoryStore) -> None:
    from evals.replay import first_samples
    from sleeptime.notes.strategies import LEVEL4, VIEWED

    lists = ["1. How many muffins went to the shelter?\n2. How many were sold?",
             "1. How many were sold?\n2. How many muffins were baked?"]
    model = staged_model(reflect=[SAMPLE_A], predict=[lists[0], "8", "64", lists[1], "72"])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=2, n_questions=2,
                    experiment=Experiment(question_work=LEVEL4, sampling=VIEWED))
    big = app.sleep("bakery", CONTEXT)
    calls = model.calls_for("predict")
    # sample 0 lists and works two; sample 1 lists two, one of them sample 0's (not worked again)
    assert len(calls) == 5
    assert all("- baked = 72" in call[-1].text for call in calls)  # each sample reads its own notes
    assert [(q["question"], q["answer"], q.get("sample")) for q in big.questions] == [
        ("How many muffins went to the shelter?", "8", 0), ("How many were sold?", "64", 0),
        ("How many muffins were baked?", "72", 1)]
    # a sample's cost holds its reflect call and its predict calls
    assert [u.calls for u in big.sample_usage] == [4, 3]
    # the sleep of its first sample: sample 0's questions and cost only
    app.ingest("bakery-k1", CONTEXT)
    one = first_samples(big, 1, app, "bakery-k1", "concat")
    assert [q["question"] for q in one.questions] == ["How many muffins went to the shelter?", "How many were sold?"]
    assert one.usage.calls == 4
    assert [q["question"] for q in app.learned_store().questions("bakery-k1", app.learned_store().latest("bakery-k1"))
            ] == ["How many muffins went to the shelter?", "How many were sold?"]


def test_listed_questions_read_numbering_bold_and_several_a_line() -> None:
    from sleeptime.nodes.sleep.predict import listed_questions

    assert listed_questions("**1. What is the total?**\n**Question 2:** How long is it? And how wide?\n"
                            "- what is the total?\nNo question here.") == [
        "What is the total?", "How long is it?", "And how wide?"]


def test_views_sampling_gives_each_later_sample_its_own_focus_at_the_sleep_temperature(
    memory_store: InMemoryStore,
) -> None:
    from sleeptime.notes.strategies import TEMPERATURE, VIEWED
    from sleeptime.prompts.reflect import VIEWS

    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C, SAMPLE_A])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=4, n_questions=0,
                    experiment=Experiment(sampling=VIEWED))
    result = app.sleep("bakery", CONTEXT)
    prompts = [call[-1].text for call in model.calls_for("reflect")]
    # sample 0 reads the plain prompt; samples 1, 2, 3 one focus each, in the order of VIEWS
    assert sorted(sum(view in p for view in VIEWS) for p in prompts) == [0, 1, 1, 1]
    assert all(any(view in p for p in prompts) for view in VIEWS)
    assert [VIEWED.temperature(i, 0.0, 0.7) for i in range(4)] == [0.0] * 4
    assert [TEMPERATURE.temperature(i, 0.0, 0.7) for i in range(3)] == [0.0, 0.7, 0.7]
    assert VIEWED.focus(0) is None and VIEWED.focus(4) == VIEWS[0] and TEMPERATURE.focus(2) is None
    # each sample's cost is kept apart, and together they are the sleep's reflect cost
    assert len(result.sample_usage) == 4 and all(u.calls == 1 for u in result.sample_usage)
    assert sum(u.output_tokens for u in result.sample_usage) == result.usage.output_tokens


def test_the_first_samples_of_a_larger_sleep_publish_their_merge_and_their_cost(memory_store: InMemoryStore) -> None:
    from evals.replay import first_samples
    from sleeptime.notes.quantities import check_notes
    from sleeptime.notes.strategies import VIEWED

    model = staged_model(reflect=[SAMPLE_A, SAMPLE_B, SAMPLE_C])
    app = SleepTime(store=memory_store, sleep_model=model, wake_model=model, samples=3, n_questions=0,
                    experiment=Experiment(sampling=VIEWED))
    big = app.sleep("bakery", CONTEXT)
    app.ingest("bakery-k2", CONTEXT)
    two = first_samples(big, 2, app, "bakery-k2", "concat")
    assert two.samples == big.samples[:2]
    assert two.learned == [CONCAT([check_notes(s) for s in big.samples[:2]])[0].render()]
    assert two.usage.calls == 2
    assert two.usage.output_tokens == sum(u.output_tokens for u in big.sample_usage[:2]) > 0
    version = app.learned_store().latest("bakery-k2")
    assert version is not None and version.samples == two.learned
    assert sum(r["output_tokens"] for r in version.sleep_usage) == two.usage.output_tokens
