"""`artfarm validate`: every problem at once, with file, JSON path and fix; exit 2; no traceback."""

from __future__ import annotations

import json
import os

import pytest

from artfarm.cli.main import main
from tests.bookbuilder import default_book, default_spec, png_bytes


def run_validate(capsys, book_dir, *extra):
    code = main(["validate", str(book_dir), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def findings_of(capsys, book_dir):
    code, out, _ = run_validate(capsys, book_dir, "--json")
    report = json.loads(out)
    return code, report


def test_valid_book_exits_zero_with_one_line_summary(make_book, capsys):
    book = make_book()
    code, out, err = run_validate(capsys, book)
    assert code == 0
    assert out.strip().splitlines() == ["testbook: ok, 2 page(s) with RenderSpecs, 0 warning(s)"]
    assert err == ""


def test_book_found_by_id_under_books_flag(make_book, books_dir, capsys):
    make_book()
    assert main(["validate", "testbook", "--books", str(books_dir)]) == 0


def test_missing_book_is_bad_input_with_fix(books_dir, capsys):
    assert main(["validate", "nope", "--books", str(books_dir)]) == 2
    err = capsys.readouterr().err
    assert "no book found" in err and "artfarm new-book nope" in err
    assert "Traceback" not in err


def test_malformed_json_names_line_and_column(make_book, capsys):
    book = make_book(specs={1: '{\n  "book_id": "testbook",\n  "page": 1\n  "scene": "x"\n}', 2: default_spec(2)})
    code, report = findings_of(capsys, book)
    assert code == 2
    [f] = report["findings"]
    assert f["file"] == "pages/0001/renderspec.json"
    assert "line 4, column 3" in f["message"]


def test_malformed_yaml_names_line_and_column(make_book, capsys):
    book = make_book(book="title: Test\nauthor: [unclosed\npages: []\n")
    code, report = findings_of(capsys, book)
    assert code == 2
    f = next(f for f in report["findings"] if f["file"] == "book.yaml")
    assert "invalid YAML" in f["message"] and "line 3" in f["message"]


def test_unknown_key_suggests_the_closest_known_key(make_book, capsys):
    spec = default_spec(1)
    spec["camera"] = {"shoot": "wide"}
    spec["sceen"] = "typo"
    book = make_book(specs={1: spec, 2: default_spec(2)})
    code, report = findings_of(capsys, book)
    assert code == 2
    by_path = {f["path"]: f for f in report["findings"]}
    assert "did you mean 'shot'?" in by_path["$.camera.shoot"]["fix"]
    assert "did you mean 'scene'?" in by_path["$.sceen"]["fix"]


def test_wrong_types_and_enum_values_are_named_by_json_path(make_book, capsys):
    book = make_book(specs={1: default_spec(1, seed="forty-two", camera={"shot": "sideways"}), 2: default_spec(2)})
    code, report = findings_of(capsys, book)
    paths = {f["path"] for f in report["findings"]}
    assert {"$.seed", "$.camera.shot"} <= paths
    assert code == 2


def test_page_number_must_match_its_folder(make_book, capsys):
    book = make_book(specs={1: default_spec(1), 2: default_spec(3)})
    code, report = findings_of(capsys, book)
    f = next(f for f in report["findings"] if f["path"] == "$.page")
    assert f["file"] == "pages/0002/renderspec.json" and "folder is for page 2" in f["message"]
    assert code == 2


def test_duplicate_pages_in_book_yaml(make_book, capsys):
    data = default_book(2)
    data["pages"].append({"page": 2, "text": "again"})
    code, report = findings_of(capsys, make_book(book=data))
    f = next(f for f in report["findings"] if "listed twice" in f["message"])
    assert f["file"] == "book.yaml" and f["path"] == "$.pages[2].page"
    assert code == 2


def test_page_folder_must_be_four_digits(make_book, capsys):
    book = make_book()
    (book / "pages" / "7").mkdir()
    code, report = findings_of(capsys, book)
    assert any(f["file"] == "pages/7" and "four digits" in f["message"] for f in report["findings"])
    assert code == 2


def test_character_not_in_bible(make_book, capsys):
    spec = default_spec(1, characters=[{"id": "wolf"}])
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    f = next(f for f in report["findings"] if f["path"] == "$.characters[0].id")
    assert "'wolf' is not in bible/characters.yaml" in f["message"] and "bear" in f["fix"]
    assert code == 2


def test_missing_ref_file(make_book, capsys):
    spec = default_spec(1, refs={"style": ["bible/style_refs/nope.png"]})
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    f = next(f for f in report["findings"] if f["path"] == "$.refs.style[0]")
    assert "does not exist" in f["message"]
    assert code == 2


@pytest.mark.parametrize("ref", ["../outside.png", "/etc/passwd", "bible/../../outside.png"])
def test_ref_paths_that_leave_the_book_are_refused(make_book, capsys, ref):
    spec = default_spec(1, refs={"style": [ref]})
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    assert code == 2
    assert any(f["path"].startswith("$.refs.style") for f in report["findings"])


def test_symlink_pointing_outside_the_book_is_refused(make_book, tmp_path, capsys):
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes())
    spec = default_spec(1, refs={"style": ["bible/style_refs/link.png"]})
    book = make_book(specs={1: spec, 2: default_spec(2)})
    (book / "bible" / "style_refs").mkdir(parents=True)
    os.symlink(outside, book / "bible" / "style_refs" / "link.png")
    code, report = findings_of(capsys, book)
    f = next(f for f in report["findings"] if f["path"] == "$.refs.style[0]")
    assert "leads outside the book" in f["message"]
    assert code == 2


def test_ref_inside_the_book_is_accepted(make_book, capsys):
    spec = default_spec(1, refs={"style": ["bible/style_refs/a.png"], "characters": {"bear": ["bible/character_refs/bear/a.png"]}})
    book = make_book(specs={1: spec, 2: default_spec(2)},
                     files={"bible/style_refs/a.png": png_bytes(), "bible/character_refs/bear/a.png": png_bytes()})
    assert run_validate(capsys, book)[0] == 0


def test_unknown_style_pack_lists_the_known_ones(make_book, capsys):
    spec = default_spec(1, style_pack="oil_painting")
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    f = next(f for f in report["findings"] if f["path"] == "$.style_pack")
    assert "unknown style pack 'oil_painting'" in f["message"] and "watercolor_whimsy_v1" in f["fix"]
    assert code == 2


@pytest.mark.parametrize("scene", ["", "   \n\t"])
def test_empty_scene(make_book, capsys, scene):
    code, report = findings_of(capsys, make_book(specs={1: default_spec(1, scene=scene), 2: default_spec(2)}))
    assert any(f["path"] == "$.scene" for f in report["findings"])
    assert code == 2


def test_every_problem_is_reported_at_once(make_book, capsys):
    specs = {1: default_spec(1, characters=[{"id": "wolf"}], style_pack="nope"), 2: default_spec(2, scene="", extra=1)}
    code, out, err = run_validate(capsys, make_book(specs=specs))
    assert code == 2
    for needle in ("'wolf'", "unknown style pack 'nope'", "$.scene", "unknown key 'extra'"):
        assert needle in out
    assert "Traceback" not in out + err


def test_listed_page_without_renderspec(make_book, capsys):
    code, report = findings_of(capsys, make_book(pages=3, specs={1: default_spec(1), 2: default_spec(2)}))
    f = next(f for f in report["findings"] if f["file"] == "pages/0003/renderspec.json")
    assert "has no RenderSpec" in f["message"]
    assert code == 2


def test_book_id_must_match_folder(make_book, capsys):
    code, report = findings_of(capsys, make_book(specs={1: default_spec(1, book_id="other"), 2: default_spec(2)}))
    assert any(f["path"] == "$.book_id" for f in report["findings"])
    assert code == 2


def test_spread_must_start_on_an_even_page(make_book, capsys):
    data = default_book(3)
    data["pages"][0]["spread"] = True
    code, report = findings_of(capsys, make_book(book=data, pages=3))
    assert any(f["path"] == "$.pages[0].spread" for f in report["findings"])
    assert code == 2


def test_spread_continuation_needs_no_renderspec(make_book, capsys):
    data = default_book(3)
    data["pages"][1]["spread"] = True
    book = make_book(book=data, specs={1: default_spec(1), 2: default_spec(2)})
    assert run_validate(capsys, book)[0] == 0


def test_json_output_is_one_document_for_agents(make_book, capsys):
    code, report = findings_of(capsys, make_book(specs={1: default_spec(1, seed=-1), 2: default_spec(2)}))
    assert code == 2
    assert report["ok"] is False and report["errors"] == 1
    assert set(report["findings"][0]) == {"severity", "file", "path", "message", "fix"}


def test_text_constraint_that_is_not_a_no_rule_is_a_warning(make_book, capsys):
    spec = default_spec(1, constraints=["a sign that says HELLO"])
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    assert code == 0
    [f] = report["findings"]
    assert f["severity"] == "warning" and f["path"] == "$.constraints[0]"


def test_broken_palette_file_is_reported(make_book, capsys):
    book = make_book(files={"bible/palettes/bad.yaml": "name: bad\ncolours:\n  red: '#GG0000'\n"})
    code, report = findings_of(capsys, book)
    assert any(f["file"] == "bible/palettes/bad.yaml" for f in report["findings"])
    assert code == 2


def test_an_invalid_renderspec_still_gets_every_other_check(make_book, capsys):
    spec = default_spec(1, scenee="typo", scene="", seed="x", characters=[{"id": "ghost"}],
                        refs={"style": ["bible/nothere.png", "../escape.png"]})
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    paths = [f["path"] for f in report["findings"] if f["file"] == "pages/0001/renderspec.json"]
    for expected in ("$.scenee", "$.scene", "$.seed", "$.characters[0].id", "$.refs.style[0]", "$.refs.style[1]"):
        assert expected in paths
    assert len(paths) == len(set(paths)), "a problem is reported once"
    assert code == 2


@pytest.mark.parametrize("text,needle", [("title: A\ntitle: B\nauthor: X\nstyle_pack: watercolor_whimsy_v1\n", "'title' appears twice"),
                                         ("title: A\nauthor: X\nstyle_pack: watercolor_whimsy_v1\npages:\n- page: 1\n  text: a\n  text: b\n",
                                          "'text' appears twice")])
def test_a_key_given_twice_in_yaml_is_an_error_not_a_silent_overwrite(make_book, capsys, text, needle):
    code, report = findings_of(capsys, make_book(book=text))
    f = next(f for f in report["findings"] if f["file"] == "book.yaml")
    assert needle in f["message"] and "line" in f["message"]
    assert code == 2


def test_a_key_given_twice_in_json_is_an_error(make_book, capsys):
    text = json.dumps(default_spec(1))[:-1] + ', "seed": 5}'
    code, report = findings_of(capsys, make_book(specs={1: text, 2: default_spec(2)}))
    f = next(f for f in report["findings"] if f["file"] == "pages/0001/renderspec.json")
    assert "'seed' appears twice" in f["message"]
    assert code == 2


def test_a_count_constraint_that_disagrees_with_the_cast_is_a_warning(make_book, capsys):
    spec = default_spec(1, characters=[{"id": "bear"}, {"id": "ginger"}], constraints=["exactly one character"])
    code, report = findings_of(capsys, make_book(specs={1: spec, 2: default_spec(2)}))
    [f] = [f for f in report["findings"] if "CLIP tokens" not in f["message"]]  # two characters run past 75 tokens
    assert f["severity"] == "warning" and f["path"] == "$.constraints[0]" and "lists 2" in f["message"]
    assert code == 0


def test_a_page_with_only_warnings_is_still_rendered(make_book):
    from artfarm.book.loader import load_book

    spec = default_spec(1, constraints=["a sign that says HELLO"])
    book = load_book(make_book(specs={1: spec, 2: default_spec(2)}))
    assert sorted(book.specs) == [1, 2]
    assert [f.severity for f in book.page_findings[1]] == ["warning"]
