"""The shared YAML loader: parse with lines, find duplicate keys, describe pydantic errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.agents.core.yamlfile import (
    Label,
    Loc,
    ParsedYaml,
    Problem,
    describe_validation_error,
    duplicate_keys,
    format_problems,
    load_yaml_file,
    node_line,
    parse_yaml,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Leaf(_Strict):
    colour: Literal["red", "blue"]
    size: int = 1


class Other(_Strict):
    weight: int


class Tree(_Strict):
    name: str
    leaves: list[Leaf] = []
    pair: tuple[Leaf, Other] | None = None
    by_name: dict[str, Leaf] = {}
    maybe: Annotated[Leaf | None, Field(default=None)]
    either: Leaf | Other | None = None


def _parse(text: str) -> ParsedYaml:
    parsed = parse_yaml(text, "t.yaml")
    assert isinstance(parsed, ParsedYaml), parsed
    return parsed


def _describe(text: str, **kwargs: Any) -> list[str]:
    parsed = _parse(text)
    with pytest.raises(ValidationError) as caught:
        Tree.model_validate(parsed.document)
    return [str(p) for p in describe_validation_error(caught.value, parsed, Tree, **kwargs)]


def test_parse_gives_the_document_and_its_node_tree() -> None:
    parsed = _parse("name: oak\nleaves:\n  - colour: red\n")

    assert parsed.document == {"name": "oak", "leaves": [{"colour": "red"}]}
    assert node_line(parsed.root, ("leaves", 0, "colour")) == 3


def test_empty_text_parses_to_nothing() -> None:
    parsed = _parse("# only a comment\n")

    assert (parsed.root, parsed.document) == (None, None)
    assert node_line(parsed.root, ("name",)) is None


def test_syntax_error_is_a_problem_with_its_line() -> None:
    problem = parse_yaml("name: oak\nleaves: [unclosed\nsize: 2\n", "t.yaml")

    assert isinstance(problem, Problem)
    assert problem.line is not None and problem.line >= 2
    assert str(problem).startswith(f"t.yaml:{problem.line}: YAML syntax error: ")
    assert "that starts at line 2" in str(problem)


def test_two_documents_are_a_syntax_error() -> None:
    problem = parse_yaml("a: 1\n---\nb: 2\n", "t.yaml")

    assert isinstance(problem, Problem)
    assert "YAML syntax error" in str(problem)


def test_load_yaml_file_reports_missing_and_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"name: \xff\n")

    missing = load_yaml_file(tmp_path / "nope.yaml")
    unreadable = load_yaml_file(tmp_path / "bad.yaml")

    assert str(missing) == f"{tmp_path / 'nope.yaml'}: no such file; check the path"
    assert str(unreadable).startswith(f"{tmp_path / 'bad.yaml'}: cannot read the file: ")


def test_load_yaml_file_parses(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: oak\n", encoding="utf-8")

    parsed = load_yaml_file(tmp_path / "t.yaml")

    assert isinstance(parsed, ParsedYaml)
    assert (parsed.file, parsed.document) == (tmp_path / "t.yaml", {"name": "oak"})


def test_duplicate_keys_are_found_at_any_depth_on_the_repeat_line() -> None:
    parsed = _parse("name: a\nleaves:\n  - colour: red\n    colour: blue\nname: b\n")

    assert format_problems(duplicate_keys(parsed)) == [
        "t.yaml:4: duplicate key 'colour'",
        "t.yaml:5: duplicate key 'name'",
    ]


def test_equal_text_of_different_types_is_not_a_duplicate_key() -> None:
    assert duplicate_keys(_parse("1: int\n'1': text\n")) == []


def test_aliases_are_checked_once_even_in_a_cycle() -> None:
    parsed = _parse("a: &x\n  k: 1\n  k: 2\nb: *x\nc: &loop [*loop]\n")

    assert format_problems(duplicate_keys(parsed)) == ["t.yaml:3: duplicate key 'k'"]


def test_node_line_falls_back_to_the_deepest_ancestor() -> None:
    parsed = _parse("name: oak\nleaves:\n  - size: 2\n")

    assert node_line(parsed.root, ("leaves", 0, "colour")) == 3
    assert node_line(parsed.root, ("leaves", 5)) == 3
    assert node_line(parsed.root, ("name",), key=True) == 1


def test_bad_value_names_line_field_and_value() -> None:
    assert _describe("name: oak\nleaves:\n  - colour: green\n") == [
        "t.yaml:3: field 'leaves.0.colour': Input should be 'red' or 'blue' (got 'green')"
    ]


def test_missing_field_is_reported_at_the_mapping_that_lacks_it() -> None:
    assert _describe("leaves: []\n") == ["t.yaml:1: field 'name': required field is missing"]


def test_long_values_are_shortened() -> None:
    [problem] = _describe(f"name: oak\nleaves:\n  - colour: {'x' * 200}\n")

    assert problem.endswith("...)")
    assert len(problem) < 160


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nmae: oak\n", "t.yaml:1: field 'nmae': unknown field; did you mean 'name'?"),
        (
            "name: oak\nleaves:\n  - colour: red\n    sise: 2\n",
            "t.yaml:4: field 'leaves.0.sise': unknown field; did you mean 'size'?",
        ),
        (
            "name: oak\npair:\n  - {colour: red}\n  - {weight: 1, wieght: 2}\n",
            "t.yaml:4: field 'pair.1.wieght': unknown field; did you mean 'weight'?",
        ),
        (
            "name: oak\nby_name:\n  first:\n    colr: red\n",
            "t.yaml:4: field 'by_name.first.colr': unknown field; did you mean 'colour'?",
        ),
        (
            "name: oak\nmaybe:\n  colour: red\n  sizes: 2\n",
            "t.yaml:4: field 'maybe.sizes': unknown field; did you mean 'size'?",
        ),
        (
            "name: oak\nxyz: 1\n",
            "t.yaml:2: field 'xyz': unknown field; allowed: name, leaves, pair, by_name, "
            "maybe, either",
        ),
    ],
)
def test_unknown_key_is_on_its_line_with_a_hint_from_the_model(text: str, expected: str) -> None:
    assert expected in _describe(text)


def test_unknown_key_in_a_union_member_gets_that_member_hint() -> None:
    problems = _describe("name: oak\neither:\n  weight: 1\n  weigth: 2\n")

    assert "t.yaml:4: field 'either.Other.weigth': unknown field; did you mean 'weight'?" in (
        problems
    )


def _leaf_label(loc: Loc, document: Any) -> Label | None:
    if len(loc) >= 2 and loc[0] == "leaves" and isinstance(loc[1], int):
        return Label(text=f"leaf #{loc[1] + 1} of {document['name']}", depth=2)
    return None


def test_label_names_the_object_and_shortens_the_field() -> None:
    problems = _describe("name: oak\nleaves:\n  - colour: red\n    sise: 2\n", label=_leaf_label)

    assert problems == [
        "t.yaml:4: leaf #1 of oak: field 'sise': unknown field; did you mean 'size'?"
    ]


def test_problems_are_sorted_by_line() -> None:
    text = "name: oak\nleaves:\n  - colour: green\n  - {}\nnmae: x\n"

    lines = [problem.split(":")[1] for problem in _describe(text)]

    assert lines == sorted(lines, key=int)


def test_values_from_no_file_have_no_location() -> None:
    with pytest.raises(ValidationError) as caught:
        Tree.model_validate({"name": "oak", "nmae": 1})

    problems = describe_validation_error(caught.value, None, Tree)

    assert format_problems(problems) == ["field 'nmae': unknown field; did you mean 'name'?"]


def test_format_problems_puts_lineless_problems_first() -> None:
    problems = [
        Problem(file="a", line=3, message="third"),
        Problem(file="a", line=None, message="whole file"),
        Problem(file="a", line=1, message="first"),
    ]

    assert format_problems(problems) == ["a: whole file", "a:1: first", "a:3: third"]
