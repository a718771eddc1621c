"""Paths, settings precedence and atomic writes: the small pieces everything else stands on."""

from __future__ import annotations

import os

import pytest

from artfarm.book.paths import resolve_inside
from artfarm.errors import PathEscapeError, WriteError
from artfarm.fsio import atomic_write_bytes, canonical_json, sha256_json
from artfarm.models.book import Book
from artfarm.settings import DEFAULT_COMFYUI_URL, resolve_settings


def test_resolve_inside_accepts_nested_and_refuses_escapes(tmp_path):
    (tmp_path / "a").mkdir()
    assert resolve_inside(tmp_path, "a/b.png") == (tmp_path / "a" / "b.png").resolve()
    for bad in ("../x", "/abs", "a/../../x"):
        with pytest.raises(PathEscapeError):
            resolve_inside(tmp_path, bad)


def test_resolve_inside_refuses_a_symlinked_folder_that_leaves(tmp_path):
    root, outside = tmp_path / "book", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    os.symlink(outside, root / "refs")
    with pytest.raises(PathEscapeError, match="leads outside"):
        resolve_inside(root, "refs/x.png")


def book(**render):
    return Book.model_validate({"title": "T", "author": "A", "style_pack": "p", "render": render})


def test_settings_precedence_flag_over_env_over_book_over_default():
    b = book(comfyui_url="http://book:1", reviewer="agent")
    env = {"ARTFARM_COMFYUI_URL": "http://env:1,http://env:2"}
    assert resolve_settings(None, {}, {}).comfyui_urls == [DEFAULT_COMFYUI_URL]
    assert resolve_settings(b, {}, {}).comfyui_urls == ["http://book:1"]
    assert resolve_settings(b, {}, env).comfyui_urls == ["http://env:1", "http://env:2"]
    s = resolve_settings(b, {"comfyui_urls": ["http://flag:1"]}, env)
    assert s.comfyui_urls == ["http://flag:1"] and s.sources["comfyui_urls"] == "flag"
    assert s.reviewer == "agent" and s.sources["reviewer"] == "book.yaml"


def test_bad_setting_from_environment_is_bad_input():
    from artfarm.errors import BadInputError

    with pytest.raises(BadInputError, match="ARTFARM_JOBS"):
        resolve_settings(None, {}, {"ARTFARM_JOBS": "many"})


def test_trim_accepts_presets_and_mappings():
    assert Book.model_validate({"title": "T", "author": "A", "style_pack": "p", "layout": {"trim": "8x10"}}).layout.trim.height_in == 10
    assert Book.model_validate({"title": "T", "author": "A", "style_pack": "p",
                                "layout": {"trim": {"width_in": 7, "height_in": 7}}}).layout.trim.width_in == 7


def test_canonical_json_ignores_key_order_and_whitespace():
    assert canonical_json({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
    assert sha256_json({"a": 1, "b": "é"}) == sha256_json({"b": "é", "a": 1})


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        written = atomic_write_bytes(tmp_path / "art.png", b"x")
    finally:
        os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o644


def test_failed_atomic_write_is_a_write_error_and_leaves_no_temp_file(tmp_path):
    blocker = tmp_path / "taken"
    blocker.mkdir()  # a folder where the file should go: the final rename fails
    with pytest.raises(WriteError) as info:
        atomic_write_bytes(blocker, b"data")
    assert str(blocker) in str(info.value) and "fix:" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    not_a_folder = tmp_path / "file"
    not_a_folder.write_bytes(b"x")
    with pytest.raises(WriteError):
        atomic_write_bytes(not_a_folder / "child.bin", b"data")
