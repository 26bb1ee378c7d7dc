"""The file map a DESCRIBE sleep writes: key names from the code, descriptions, the most central file first."""

from __future__ import annotations

from sleeptime.large.repomap import MAP_HEADER, file_map, key_symbols
from sleeptime.large.sources import SourceChunk


def _chunk(source: str, text: str) -> SourceChunk:
    return SourceChunk(text=text, source=source, start_line=1, end_line=text.count("\n") + 1, digest=source + text)


def test_key_symbols_of_code_and_documents() -> None:
    code = ("class Context:\n    def method(self):\n        pass\n\n"
            "def _private():\n    pass\n\ndef public():\n    pass\n")
    assert key_symbols("pkg/core.py", code) == ["Context", "public", "_private"]  # top level only, public first
    assert key_symbols("docs/options.md", "# Options\n\ntext\n\n## Counting\n") == ["Options", "Counting"]
    assert key_symbols("docs/api.rst", "API\n===\n\nText.\n\nTypes\n-----\n") == ["API", "Types"]


def test_map_ranks_the_file_others_use_first_and_adds_descriptions() -> None:
    chunks = [
        _chunk("pkg/util.py", "def helper():\n    return 1\n"),
        _chunk("pkg/core.py", "from pkg.util import helper\n\nclass Command:\n    pass\n"),
        _chunk("pkg/cli.py", "from pkg.core import Command\nfrom pkg.util import helper\n\ndef main():\n    pass\n"),
    ]
    text = file_map(chunks, {"pkg/util.py": "Small helpers used everywhere. More detail here.\nQ: where is helper?"})
    lines = text.splitlines()
    assert lines[0] == MAP_HEADER
    assert lines[1] == "pkg/util.py: Small helpers used everywhere. [helper]"  # named by two files
    assert lines[2] == "pkg/core.py: [Command]" and lines[3] == "pkg/cli.py: [main]"


def test_the_map_skips_a_description_that_begins_with_its_questions() -> None:
    chunks = [_chunk("pkg/a.py", "def run():\n    pass\n")]
    text = file_map(chunks, {"pkg/a.py": "Q: What does run do?\nPart pkg/a.py:1-2 Runs the job.\nQ: Where?"})
    assert text.splitlines()[1] == "pkg/a.py: Runs the job. [run]"
    assert file_map(chunks, {"pkg/a.py": "Q: only questions?"}).splitlines()[1] == "pkg/a.py: [run]"
