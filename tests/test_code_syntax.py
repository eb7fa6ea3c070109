"""Syntax checks with real parsers: each language's broken code is caught with its line and message, valid code passes."""

from __future__ import annotations

import shutil

import pytest

from assay.tools.code_syntax import CHECKERS, check, python_source
from assay.core.recipe_screen import CODE_LANGUAGES


def test_the_recipe_names_exactly_the_languages_with_a_checker() -> None:
    assert set(CODE_LANGUAGES) == set(CHECKERS)


@pytest.mark.parametrize(("language", "good", "bad", "line", "message"), [
    ("python", "def f(x):\n    return x * 2\n", "def f(x):\n    return (x * 2\n", 2, "was never closed"),
    ("python", "for i in range(3):\n    print(i)\n", "for i in range(3)\n    print(i)\n", 1, "expected ':'"),
    ("python", "x = 1\ny = 2\n", "x = 1\n  y = 2\n", 2, "IndentationError: unexpected indent"),
    ("json", '{"a": [1, 2], "b": null}', '{"a": [1, 2],\n "b": null,\n}', 3, "Expecting property name"),
    ("json", '{"a": 1}\n{"a": 2}\n', '{"a": 1}\n{"a": 2\n', 2, "Expecting"),
    ("yaml", "name: x\nitems:\n  - 1\n  - 2\n", "name: x\nitems:\n  - 1\n - 2\n", 4, "did not find expected key"),
    ("sql", "SELECT name, age FROM users WHERE age > 30 ORDER BY age;",
     "SELECT name, age FROM users WHERE (age > 30 ORDER BY age;", 1, "Expecting )"),
    ("sql", "INSERT INTO t (a, b) VALUES (1, 'x');", "INSERT INTO t (a, b) VALUES (1, 'x);", 1, ""),
    ("toml", 'title = "x"\n[owner]\nname = "y"\n', 'title = "x"\n[owner\nname = "y"\n', 2, ""),
    ("xml", "<a><b>1</b></a>", "<a><b>1</a></a>", 1, "mismatched tag"),
])
def test_each_parser_passes_good_code_and_names_the_line_of_bad(language: str, good: str, bad: str, line: int,
                                                                 message: str) -> None:
    assert check(language, good) is None
    problem = check(language, bad)
    assert problem is not None and problem.language == language
    assert problem.line == line, problem
    assert message in problem.message, problem


def test_sql_in_any_common_dialect_passes_and_a_tag_picks_one() -> None:
    mysql = "SELECT `name` FROM `users` LIMIT 5;"
    tsql = "SELECT TOP 5 name FROM users;"
    assert check("sql", mysql) is None and check("sql", tsql) is None
    assert check("sql", tsql, dialect="tsql") is None
    assert check("sql", "SELEC * FROM t") is not None


def test_sql_messages_name_the_token_not_the_parser_internals() -> None:
    problem = check("sql", "SELECT a FROM WHERE x = 1")
    assert problem is not None and "<Token" not in problem.message and "'WHERE'" in problem.message
    problem = check("sql", "SELECT * FROM t WHERE x = 'y'.")
    assert problem is not None and "<class" not in problem.message


def test_a_python_repl_transcript_is_checked_without_its_prompts_and_output() -> None:
    transcript = ">>> x = [1, 2]\n>>> for i in x:\n...     print(i)\n...\n1\n2\n"
    assert check("python", transcript) is None
    assert python_source(transcript).splitlines()[4] == ""  # output lines stay, blank: line numbers hold
    problem = check("python", ">>> x = [1, 2\n>>> print(x)\n")
    assert problem is not None and problem.line == 1


def test_notebook_magics_are_not_syntax_errors() -> None:
    assert check("python", "%matplotlib inline\n!pip install numpy\nimport math\n") is None


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_shell_is_parsed_by_bash_without_running_it(tmp_path) -> None:
    marker = tmp_path / "ran"
    assert check("shell", f"touch {marker}\nif [ -f x ]; then\n  echo yes\nfi\n") is None
    assert not marker.exists()  # bash -n reads, never runs
    problem = check("shell", "if [ -f x ]; then\n  echo yes\n")
    assert problem is not None and "unexpected end of file" in problem.message


def test_a_long_sql_script_names_its_broken_statement() -> None:
    script = "SELECT a, b FROM t WHERE x = 1;\n" * 300 + "SELECT * FROM WHERE;\nSELECT TOP 5 name FROM users;"
    problem = check("sql", script)
    assert problem is not None and problem.line == 301 and "'WHERE'" in problem.message
    # a dialect's own syntax, many statements long, still passes (T-SQL's TOP)
    assert check("sql", "SELECT TOP 5 name FROM users;\n" * 300) is None
