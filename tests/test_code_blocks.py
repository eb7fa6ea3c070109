"""Finding code in a response: fenced with or without a tag, unfenced, and the language of untagged code."""

from __future__ import annotations

from assay.tools.code_blocks import find_code, guess_language, named_languages

PROGRAM = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))"


def test_a_tagged_fence_gives_the_language_and_the_line() -> None:
    text = "Here is the query:\n\n```MySQL\nSELECT `a` FROM `t`;\n```\nDone."
    [block] = find_code(text)
    assert (block.language, block.dialect, block.line, block.fenced, block.tagged) == ("sql", "mysql", 4, True, True)
    assert block.code == "SELECT `a` FROM `t`;"


def test_fence_tags_of_one_language_are_one_language() -> None:
    for tag in ("py", "python3", "Python"):
        assert find_code(f"```{tag}\nx = 1\n```")[0].language == "python"
    assert find_code("```yml\na: 1\n```")[0].language == "yaml"


def test_a_language_without_a_checker_is_counted_not_checked() -> None:
    [block] = find_code("```java\nclass A { }\n```")
    assert block.language == "java" and not block.checkable


def test_untagged_code_gets_the_language_whose_parser_accepts_it() -> None:
    assert find_code(f"```\n{PROGRAM}\n```")[0].language == "python"
    assert find_code('```\n{"a": 1, "b": [true, null]}\n```')[0].language == "json"
    assert find_code("```\nSELECT name FROM users WHERE age > 3;\n```")[0].language == "sql"


def test_unfenced_code_after_prose_is_found_and_the_prose_left_out() -> None:
    text = f"The following function adds two numbers and prints the result.\n\n{PROGRAM}\n\nOutput: 3"
    [block] = find_code(text)
    assert (block.language, block.fenced, block.line) == ("python", False, 3)
    assert block.code == PROGRAM


def test_broken_untagged_python_is_still_python() -> None:
    # A lost colon: no parser accepts it, yet everything else about it is Python.
    broken = "def add(a, b)\n    return a + b\n\nprint(add(1, 2))"
    [block] = find_code(broken)
    assert block.language == "python"
    assert guess_language("import os\nprint(os.getcwd()\n") == "python"  # one call left open


def test_prose_lists_and_pseudo_code_are_not_given_a_language() -> None:
    assert find_code("Preheat the oven. Mix the flour and the eggs. Bake for an hour.") == []
    pseudo = "FOR each user IN users:\n    IF user.inactive > 90 days:\n        DELETE user\nEND FOR"
    assert all(b.language is None for b in find_code(pseudo))
    listing = "1) ensuring queries are handled promptly;\n2) offering 24/7 service;\n3) giving expert advice;"
    assert all(b.language is None for b in find_code(listing))


def test_java_and_javascript_are_not_taken_for_python() -> None:
    java = "public class A {\n    public static void main(String[] args) {\n        System.out.println(1);\n    }\n}"
    js = "function f(x) {\n  let y = x + 1;\n  console.log(y);\n}"
    assert [b.language for b in find_code(java)] == [None]
    assert [b.language for b in find_code(js)] == [None]


def test_a_python_dict_is_not_broken_json_unless_json_was_asked_for() -> None:
    data = "{'name': \"Gerard\",\n\"age\": 23}"
    assert guess_language(data) is None
    assert guess_language(data, named_languages("Create a JSON object for this person.")) == "json"


def test_one_line_sql_is_code_and_a_sentence_with_an_equals_sign_is_not() -> None:
    assert [b.language for b in find_code("SELECT * FROM orders WHERE total > 100;")] == ["sql"]
    assert find_code("The total = the sum of all parts, as the book explains.") == []
