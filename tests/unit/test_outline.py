"""A part's outline: names, signatures and first docstring lines of code; headings and first sentences of prose."""

from __future__ import annotations

from sleeptime.large.outline import MIN_CHARS, outline

CODE = '''"""Terminal helpers."""
import os


@decorator
def prompt(
    text: str,
    default: int = 0,
) -> str:
    """Ask the user for a value."""
    value = os.environ.get("X")
    return text + str(value) * 40


class ProgressBar:
    """Draws a progress bar."""

    def render_eta(self) -> str:
        return "eta " * 50
'''


def test_code_outline_keeps_signatures_and_first_docstring_lines_only() -> None:
    got = outline("pkg/termui.py", CODE)
    assert got.splitlines() == ['"""Terminal helpers."""', "@decorator", "def prompt(", "    text: str,",
                                "    default: int = 0,", ") -> str:", '    """Ask the user for a value."""',
                                "class ProgressBar:", '    """Draws a progress bar."""',
                                "    def render_eta(self) -> str:"]
    assert "return" not in got and "import" not in got  # bodies and imports left out


def test_prose_outline_keeps_headings_and_first_sentences() -> None:
    doc = ("Options\n=======\n\nOptions are added with the option decorator. They take flags.\n\n"
           "## Defaults\nA default is shown with show_default. More text here.\n")
    assert outline("docs/options.rst", doc).splitlines() == [
        "Options", "Options are added with the option decorator.", "## Defaults",
        "A default is shown with show_default."]


def test_text_with_no_outline_worth_giving_is_given_whole() -> None:
    body = "x = 1\n" * 40
    assert outline("pkg/consts.py", body) == body  # no def or class: nothing shorter says what it is
    tiny = "def f():\n    pass\n" + body
    assert len("def f():") < MIN_CHARS and outline("pkg/one.py", tiny) == tiny  # too short an outline
    assert outline("data.csv", "a,b\n1,2\n") == "a,b\n1,2\n"
