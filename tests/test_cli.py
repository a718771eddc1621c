"""The console script as a user runs it: exit codes, no tracebacks, --help everywhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from artfarm.cli.main import COMMANDS, build_parser, main
from tests.bookbuilder import default_spec


def artfarm(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "artfarm", *args], capture_output=True, text=True, cwd=cwd)


def test_bad_book_exits_2_without_traceback_and_with_one_under_debug(make_book):
    book = make_book(specs={1: "{not json", 2: default_spec(2)})
    plain = artfarm("validate", str(book))
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr + plain.stdout
    assert "pages/0001/renderspec.json" in plain.stdout


def test_unknown_flag_exits_2_with_help_pointer():
    result = artfarm("validate", "--nope")
    assert result.returncode == 2
    assert "see `artfarm validate --help`" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [c.replace("_", "-") for c in COMMANDS])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert command in capsys.readouterr().out


def test_new_book_validates_as_written(books_dir, capsys):
    assert main(["new-book", "my_book", "--books", str(books_dir), "--title", "My Book"]) == 0
    capsys.readouterr()
    assert main(["validate", "my_book", "--books", str(books_dir)]) == 0
    for rel in ("book.yaml", "bible/characters.yaml", "pages/0001/renderspec.json", "bible/style_refs"):
        assert (books_dir / "my_book" / rel).exists()


def test_new_book_refuses_an_existing_book(make_book, books_dir, capsys):
    make_book()
    assert main(["new-book", "testbook", "--books", str(books_dir)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_new_book_refuses_a_bad_id(books_dir, capsys):
    assert main(["new-book", "../escape", "--books", str(books_dir)]) == 2
    assert not (books_dir.parent / "escape").exists()


def test_books_directory_comes_from_environment(make_book, capsys):
    make_book()  # conftest points ARTFARM_BOOKS at the tmp books folder
    assert main(["validate", "testbook"]) == 0
