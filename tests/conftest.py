import pytest

from tests.bookbuilder import write_book


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the user's ARTFARM_* settings or writes outside its tmp folder."""
    import os

    for name in list(os.environ):
        if name.startswith("ARTFARM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ARTFARM_BOOKS", str(tmp_path / "books"))


@pytest.fixture
def books_dir(tmp_path):
    path = tmp_path / "books"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def make_book(books_dir):
    def _make(**kwargs):
        return write_book(books_dir, **kwargs)

    return _make
