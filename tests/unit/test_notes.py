"""Notes hygiene (leaks, copies, cut-off replies) and the k-sample merge rule."""

from __future__ import annotations

from types import SimpleNamespace

from sleeptime.notes.hygiene import (
    clean_reply,
    context_sentences,
    copies_context,
    is_cut_off,
    majority,
    merge_samples,
    reconcile,
)
from sleeptime.notes.quantities import check_inline, check_notes
from sleeptime.notes.strategies import CONCAT, MEDOID, RECONCILE, SAMPLE_MERGES, WORKED
from sleeptime.prompts import predict as predict_prompt
from sleeptime.prompts import reflect as reflect_prompt

CONTEXT = (
    "A bakery baked 72 muffins on Monday. By closing time it had sold 64 of them. "
    "The rest went to the animal shelter. Each muffin sold for $3."
)


def test_prompts_carry_no_example_content() -> None:
    # Any digit in the instructions is example content a small model can copy into its notes.
    for text in (reflect_prompt.USER, reflect_prompt.USER_WORKED, reflect_prompt.SYSTEM, predict_prompt.SYSTEM,
                 predict_prompt.USER):
        assert not any(ch.isdigit() for ch in text.replace("{max_chars}", "").replace("15 lines", ""))
    assert all(p in reflect_prompt.USER for p in reflect_prompt.PLACEHOLDERS)
    assert all(p in reflect_prompt.USER_WORKED for p in reflect_prompt.PLACEHOLDERS)
    user = reflect_prompt.format_user("ctx", "", 500)
    assert "ctx" in user and reflect_prompt.EMPTY_NOTES in user and "500" in user
    assert "numbered list" in reflect_prompt.format_user("ctx", "", 500, WORKED.user_prompt)


def test_leaked_placeholders_are_dropped() -> None:
    clean = clean_reply("<label_one> = <number>\nThe shelter gets <label_two>\nbaked = 72\nlabel_two = 8", CONTEXT)
    assert clean.render() == "- baked = 72"
    reasons = [d.reason for d in clean.dropped]
    assert reasons == ["prompt placeholder", "prompt placeholder", "left of '=' is not a name"]


def test_placeholder_form_with_the_models_own_label_is_kept() -> None:
    clean = clean_reply("1. <label_muffins_left> = 72 - 64 = 8\n2. <label_what_is_counted> = 3 x 2 = 6", CONTEXT)
    assert clean.render() == "- muffins_left = 72 - 64 = 8"
    assert [d.reason for d in clean.dropped] == ["prompt placeholder"]


def test_copied_sentences_are_dropped_and_new_facts_kept() -> None:
    reply = (
        "1. A bakery baked 72 muffins on Monday.\n"
        "2. by closing time, it had sold 64 of them\n"
        "3. The muffins not sold are given away, none are kept.\n"
        "4. The rest went to the animal shelter which is nearby.\n"
        "5. baked = 72"
    )
    clean = clean_reply(reply, CONTEXT)
    assert clean.notes.facts == ["The muffins not sold are given away, none are kept."]
    assert [d.reason for d in clean.dropped] == ["copies the context"] * 3
    assert not copies_context("sold = 64", context_sentences(CONTEXT))


def test_cut_off_reply_loses_its_unfinished_line() -> None:
    clean = clean_reply("baked = 72\nsold = 64\n2. Plans: Basic co", CONTEXT, truncated=True)
    assert clean.truncated
    assert clean.render() == "- baked = 72\n- sold = 64"
    assert clean.dropped[0].reason == "cut off at the token limit"
    assert clean_reply("baked = 72", CONTEXT).render() == "- baked = 72"


def test_cut_off_detection() -> None:
    assert is_cut_off(SimpleNamespace(response_metadata={"finish_reason": "length"}), None)
    assert is_cut_off(SimpleNamespace(response_metadata={}, usage_metadata={"output_tokens": 768}), 768)
    assert not is_cut_off(SimpleNamespace(response_metadata={"finish_reason": "stop"},
                                          usage_metadata={"output_tokens": 20}), 768)
    assert not is_cut_off(object(), 768)


def test_merge_keeps_majority_values_under_any_name() -> None:
    a = check_notes("baked = 72\nsold = 64\nshelter = baked - sold\nrevenue = sold * 3\nThe shelter gets muffins.")
    b = check_notes("baked = 72\nsold = 64\nleftover = baked - sold\nrevenue = sold * 2\nwrong = 5")
    c = check_notes("baked = 72\nsold = 60\nshelter = baked - sold\nrevenue = 64 * 3")
    merged, dropped = merge_samples([a, b, c], majority)
    lines = merged.render().splitlines()
    assert lines == [
        "- baked = 72 (agreed)",
        "- sold = 64 (agreed)",
        # shelter: 8 (a) vs 12 (c) is a tie on the name -> dropped, although 8 has support 2 (a, b's leftover).
        "- revenue = sold * 3 = 64 * 3 = 192 (agreed)",
        "- The shelter gets muffins.",
        "- leftover = baked - sold = 72 - 64 = 8 (agreed)",
    ]
    reasons = sorted({d.reason for d in dropped})
    assert reasons == [
        "conflict: samples disagree on revenue",
        "conflict: samples disagree on shelter",
        "conflict: samples disagree on sold",
        "minority: 1 of 3 samples",
    ]


def test_concat_merge_keeps_every_samples_notes_once() -> None:
    a = check_notes("baked = 72\nsold = 64\nshelter = baked - sold\nThe shelter gets muffins.")
    b = check_notes("baked = 72\nsold = 60\nleftover = baked - sold\nthe shelter  gets muffins.")
    merged, dropped = CONCAT([a, b])
    assert dropped == []
    assert merged.render().splitlines() == [
        "- baked = 72 (agreed)",
        "- sold = 64",  # 1 of 2 samples: kept, not agreed (the majority rule drops it)
        "- shelter = baked - sold = 72 - 64 = 8",
        "- The shelter gets muffins.",
        "- sold = 60",  # the samples disagree on sold: both stated, as concatenation does
        "- leftover = baked - sold = 72 - 60 = 12",
    ]
    assert merge_samples([a, b], majority)[0].render().splitlines() == [
        "- baked = 72 (agreed)", "- The shelter gets muffins."]
    assert CONCAT([a])[0] is a


def test_reconcile_keeps_agreement_once_and_labels_a_two_sample_disagreement() -> None:
    a = check_notes("baked = 72\nsold = 64\nshelter = baked - sold\nThe shelter gets muffins.")
    b = check_notes("baked = 72\nsold = 60\nleftover = baked - sold\nthe shelter  gets muffins.")
    merged, dropped = RECONCILE([a, b])
    assert dropped == []
    assert merged.render().splitlines() == [
        "- baked = 72 (agreed)",
        "- sold: the samples disagree: 64 in sample 1; 60 in sample 2",  # both values, labelled, once
        "- shelter = baked - sold = 72 - 64 = 8",
        "- The shelter gets muffins.",
        "- leftover = baked - sold = 72 - 60 = 12",  # only sample 2 computed 12: kept (majority drops it)
    ]
    # Checking the published notes again keeps the labelled line as a fact and every quantity's value.
    again = check_notes(merged.render().replace(" (agreed)", ""))
    assert again.rejected == [] and again.facts[0] == "sold: the samples disagree: 64 in sample 1; 60 in sample 2"
    assert again.values() == {"baked": 72, "shelter": 8, "leftover": 12}


def test_reconcile_keeps_a_value_once_under_any_name_where_concat_repeats_it() -> None:
    a = check_notes("baked = 72\nsold = 64\nshelter = baked - sold")
    b = check_notes("muffins = 72\nsold = 64\nleftover = muffins - sold\nboxes = 3")
    lines = reconcile([a, b])[0].render().splitlines()
    assert lines == ["- baked = 72 (agreed)", "- sold = 64 (agreed)", "- shelter = baked - sold = 72 - 64 = 8 (agreed)",
                     "- boxes = 3"]  # what one sample alone computed is kept
    concat = CONCAT([a, b])[0].render()
    assert "muffins = 72" in concat and "leftover" in concat  # concatenation states 72 and 8 twice
    # A value one sample computed twice (two things of 8) is published twice: a multiset union, not a set.
    c = check_notes("apples = 8")
    d = check_notes("pears = 8\napples = 8")
    assert [q.name for q in reconcile([c, d])[0].quantities] == ["apples", "pears"]
    assert [q.name for q in reconcile([d, c])[0].quantities] == ["pears", "apples"]


def test_reconcile_resolves_a_disagreement_by_majority_from_three_samples() -> None:
    a = check_notes("baked = 72\nsold = 64\nshelter = baked - sold")
    b = check_notes("muffins_baked = 72\nsold = 64\nshelter = muffins_baked - sold")
    c = check_notes("baked = 72\nsold = 60\nshelter = baked - sold\nprice = 2")
    merged, dropped = reconcile([a, b, c])
    assert merged.render().splitlines() == [
        "- baked = 72 (agreed)",
        "- sold = 64 (agreed)",
        "- shelter = baked - sold = 72 - 64 = 8 (agreed)",
        "- price = 2",  # computed by one sample, contradicted by none: kept (the majority rule drops it)
    ]
    assert sorted(d.reason for d in dropped) == ["outvoted: samples disagree on shelter, 8 has the majority",
                                                 "outvoted: samples disagree on sold, 64 has the majority"]
    # No majority among the samples that computed a name (1 against 1; the third never did): labelled, not chosen.
    e = check_notes("x = 1")
    f = check_notes("x = 2 + 1")
    g = check_notes("y = 5")
    merged, dropped = reconcile([e, f, g])
    assert dropped == [] and merged.render().splitlines() == [
        "- x: the samples disagree: 1 in sample 1; 3 in sample 2 (2 + 1)", "- y = 5"]
    assert merge_samples([e], reconcile)[0] is e


def test_merge_of_one_sample_is_the_sample() -> None:
    a = check_notes("x = 1 + 1\nfact line")
    merged, dropped = merge_samples([a], majority)
    assert merged is a and dropped == []
    assert merge_samples([], majority)[0].items == []


def test_facts_from_other_samples_need_a_majority() -> None:
    a = check_notes("first fact")
    b = check_notes("second fact\nshared fact")
    c = check_notes("Shared  FACT")
    merged, _ = merge_samples([a, b, c], majority)
    assert merged.facts == ["first fact", "shared fact"]


def test_copied_instructions_and_headings_are_dropped() -> None:
    reply = (
        "Quantities:\n"
        "- Work out the quantities that questions about this situation are likely to need, each on a line:\n"
        "baked = 72\n"
        "Baked"
    )
    clean = clean_reply(reply, CONTEXT)
    assert clean.render() == "- baked = 72"
    assert [d.reason for d in clean.dropped] == ["copies the instructions"] * 2 + ["repeats a quantity's label"]


def test_cut_off_reply_is_continued_then_reported() -> None:
    from sleeptime.notes.hygiene import ask_notes
    from sleeptime.testing import ScriptedChatModel

    # Four words is the limit: the first reply is cut, its continuation is not.
    model = ScriptedChatModel(replies=["a = 1\nb = 2 + 3", "b = 5\nok", "c = 1 + 2 + 3 + 4"])
    text, usage, truncated = ask_notes(model, [], max_tokens=6, retries=0)
    assert (text, truncated, len(usage)) == ("a = 1\nb = 5\nok", False, 2)
    assert model.calls[1][-1].text.startswith("Your reply was cut off")

    model = ScriptedChatModel(replies=["x = 1 + 2 + 3 + 4 + 5", "y = 1 + 2 + 3 + 4 + 5"])
    text, usage, truncated = ask_notes(model, [], max_tokens=6, retries=0, continuations=1)
    assert truncated and len(usage) == 2


def test_rendered_notes_check_back_to_the_same_quantities() -> None:
    a = check_notes("baked = 72\nsold = 64\nshelter = baked - sold\nshare = 7 / 3\nA plain fact.")
    merged, _ = merge_samples([a, a], majority)
    again = check_notes(merged.render())
    assert again.values() == a.values() and again.rejected == []
    assert again.facts == ["A plain fact."]


WORKED_REPLY = """1. The bakery kept none of the muffins.
2. Muffins to the shelter = muffins baked - muffins sold = 72 - 64 = 9
3. Money from sales = 64 muffins x $3 = $192
4. Share sold = 64 out of 72, about eight ninths
5. Sold per hour = sales / opening hours = 8
6. Muffins baked on Monday = 72
7. Muffins baked on Monday = 70
8. A bakery baked 72 muffins on Monday.
9. Unsold value: 8 x $3 = $25"""


def test_worked_notes_keep_unreadable_lines_unchecked_and_recompute_the_rest() -> None:
    clean = clean_reply(WORKED_REPLY, CONTEXT, keep_unchecked=True)
    lines = clean.render().splitlines()
    # Readable arithmetic is recomputed: the model's 9 is published as 8.
    assert "- muffins_to_the_shelter = 72 - 64 = 8" in lines
    assert "- money_from_sales = 64 * 3 = 192" in lines
    # Lines the evaluator cannot read stay, as plain text, and are reported with the reason.
    assert "- Share sold = 64 out of 72, about eight ninths" in lines
    assert "- Sold per hour = sales / opening hours = 8" in lines
    assert {u.line: u.reason for u in clean.unchecked} == {
        "Share sold = 64 out of 72, about eight ninths": "not an arithmetic expression",
        "Sold per hour = sales / opening hours = 8": "not an arithmetic expression",
    }
    # A chain's steps are each checked: "72 - 64 = 8" states 8, a rounded decimal is the value rounded.
    assert check_inline("Left: 154 - (139 + 2) = 154 - 141 = 13 students") is None
    assert check_inline("Each: 245 / 54 = 4.54 puppies") is None
    assert check_inline("Each: 245 / 54 = 5 puppies") == "inline arithmetic is wrong: 245 / 54 is 245/54 (about 4.5370)"
    assert check_inline("Left: 154 - (139 + 2) = 154 - 140 = 14") is not None
    # Lines shown wrong go in both styles: a redefinition, a copy of the context, wrong inline arithmetic.
    reasons = {d.line: d.reason for d in clean.dropped}
    assert reasons["7. Muffins baked on Monday = 70"] == "redefined name muffins_baked_on_monday"
    assert reasons["A bakery baked 72 muffins on Monday."] == "copies the context"
    assert reasons["9. Unsold value: 8 x $3 = $25"].startswith("inline arithmetic is wrong")
    assert not any("25" in line or "= 70" in line for line in lines)


def test_expression_style_drops_what_the_worked_style_keeps_unchecked() -> None:
    strict = clean_reply(WORKED_REPLY, CONTEXT)
    assert strict.unchecked == []
    assert "about eight ninths" not in strict.render() and "opening hours" not in strict.render()
    assert "- muffins_to_the_shelter = 72 - 64 = 8" in strict.render().splitlines()


def test_worked_style_still_drops_code() -> None:
    reply = "a = __import__('os').system('echo hi')\nb = (lambda: 1)()\nc = [1][0]\nd = 2 * 3"
    clean = clean_reply(reply, CONTEXT, keep_unchecked=True)
    assert clean.render() == "- d = 2 * 3 = 6"
    assert clean.unchecked == [] and len(clean.dropped) == 3


def test_medoid_publishes_the_one_sample_whose_numbers_agree_most_with_the_others() -> None:
    right = "baked = 72\nsold = 64\nshelter = baked - sold"
    a = check_notes("baked = 72\nsold = 60\nshelter = baked - sold\nThe shelter got 12 muffins, worth $36.")
    b = check_notes(right)
    c = check_notes("muffins = 72\nsold = 64\nleft = muffins - sold\nIt sold 64 muffins for $3 each.")
    d = check_notes(right.replace("baked", "made"))
    merged, dropped = MEDOID([a, b, c, d])
    # b and d agree on {72, 64, 8} with each other and with c; a's {72, 60, 12, 36} shares only 72
    assert merged.render().splitlines() == ["- baked = 72 (agreed)", "- sold = 64 (agreed)",
                                            "- shelter = baked - sold = 72 - 64 = 8 (agreed)"]
    assert {r.reason for r in dropped} == {"medoid: sample 2 agreed more with the others"}
    assert len(dropped) == len(a.quantities) + len(c.quantities) + len(d.quantities)
    # numbers in facts count, thousands separators read: a fact-only sample can be the medoid
    e = check_notes("The farm sold 1,200 eggs and kept 300.")
    f = check_notes("eggs = 1200\nkept = 300")
    g = check_notes("eggs = 1100")
    assert MEDOID([g, e, f])[0].render() == e.render()
    # two samples always tie: sample 0, the deterministic one, unchanged; one sample needs no rule
    two = MEDOID([a, b])[0]
    assert two.values() == a.values() and two.facts == a.facts and MEDOID([b])[0] is b
    assert SAMPLE_MERGES["medoid"] is MEDOID
