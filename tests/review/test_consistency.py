"""The weight-free consistency score: sheet colours found where the character is, per page and across the book."""

from __future__ import annotations

import json

from PIL import Image, ImageDraw

from artfarm.book.loader import load_book
from artfarm.models.review import BookConsistency, Defect, ReviewRecord
from artfarm.review.consistency import DEFAULT_THRESHOLD, measure_page, sheet_palette
from artfarm.review.vlm import VlmReviewer
from benchmarks.consistency_agreement import main as benchmark_main, measure
from tests.bookbuilder import default_spec, write_book
from tests.doubles.fixtures import MODEL, write_candidates
from tests.doubles.judging import user_images
from tests.doubles.ollama_server import Reply, verdict_json

RED_COAT, SKIN, GREEN, BLUE = (200, 40, 40), (240, 200, 160), (60, 140, 70), (40, 60, 200)


def figure_png(body, face=SKIN, size=(256, 256), background=(250, 248, 240), at=(128, 236), height=220) -> Image.Image:
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    x, feet = at
    draw.ellipse([x - height // 6, feet - int(height * 0.7), x + height // 6, feet], fill=body)
    draw.ellipse([x - height // 5, feet - height, x + height // 5, feet - height + 2 * height // 5], fill=face)
    return img


def bear_book(tmp_path):
    chars = {"characters": [{"id": "bear", "name": "Bruno", "look": "a bear in a red coat",
                             "refs": ["bible/character_refs/bear/front.png"]}]}
    sheet = tmp_path / "sheet.png"
    figure_png(RED_COAT).save(sheet)
    root = write_book(tmp_path / "books", characters=chars, files={"bible/character_refs/bear/front.png": sheet.read_bytes()})
    return load_book(root)


def page_art(tmp_path, name, body, background=GREEN):
    path = tmp_path / name
    figure_png(body, size=(512, 384), background=background, at=(150, 370), height=200).save(path)
    return path


def test_on_model_scores_high_and_off_model_low(tmp_path):
    book = bear_book(tmp_path)
    spec = book.specs[1]
    on = measure_page(book, spec, page_art(tmp_path, "on.png", RED_COAT))
    off = measure_page(book, spec, page_art(tmp_path, "off.png", BLUE))
    assert on.characters[0].character == "bear" and on.characters[0].region == "whole image"
    assert on.score >= DEFAULT_THRESHOLD > off.score
    assert on.characters[0].sheet_hash_similarity is None  # no box located the bear


def test_a_review_box_naming_the_character_narrows_the_region(tmp_path):
    book = bear_book(tmp_path)
    art = page_art(tmp_path, "barn.png", BLUE)  # an off-model bear ...
    img = Image.open(art).convert("RGB")
    ImageDraw.Draw(img).rectangle([350, 20, 500, 200], fill=RED_COAT)  # ... next to a red barn
    img.save(art)
    whole = measure_page(book, book.specs[1], art)
    boxed = measure_page(book, book.specs[1], art, defects=[Defect(label="Bruno's coat is blue", box=(40, 80, 130, 190))],
                         reviewed_size=(256, 192))  # boxes are in the reviewed image's pixels, the art is 2x
    assert whole.score >= DEFAULT_THRESHOLD  # the barn's red fools the whole-image measure (documented)
    assert boxed.characters[0].region == "boxes" and boxed.score < DEFAULT_THRESHOLD
    assert boxed.characters[0].sheet_hash_similarity is not None


def test_a_sheet_without_ink_is_not_measured(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), (255, 255, 255)).save(blank)
    assert sheet_palette([blank]) is None


def test_old_review_json_without_consistency_still_reads():
    old = {"page": 1, "status": "waiting", "reviewer": {"kind": "heuristic"}, "candidates": []}
    assert ReviewRecord.model_validate_json(json.dumps(old)).consistency is None


def test_review_stage_writes_the_block_and_status_lists_outliers(tmp_path, capsys):
    from artfarm.cli.main import main

    book = bear_book(tmp_path)
    assert main(["render-book", "testbook", "--books", str(book.root.parent)]) == 0
    review = ReviewRecord.model_validate_json((book.root / "pages/0001/review.json").read_bytes())
    assert review.consistency is not None and [c.character for c in review.consistency.characters] == ["bear"]
    capsys.readouterr()
    page_art(tmp_path, "x.png", BLUE)
    (book.root / "pages/0002/final/final.png").write_bytes((tmp_path / "x.png").read_bytes())  # page 2 goes off model
    page_art(tmp_path, "y.png", RED_COAT)
    (book.root / "pages/0001/final/final.png").write_bytes((tmp_path / "y.png").read_bytes())
    assert main(["status", "testbook", "--books", str(book.root.parent), "--consistency", "--json"]) == 0
    report = BookConsistency.model_validate_json(capsys.readouterr().out)
    assert report.outliers == [2] and report.threshold == DEFAULT_THRESHOLD
    assert report.pages[0].consistency.characters[0].across_pages is not None
    assert main(["status", "testbook", "--books", str(book.root.parent), "--consistency", "--threshold", "0"]) == 0
    out = capsys.readouterr().out
    assert "outliers: none" in out and "bear" in out


def test_vlm_records_same_character_per_sheet(ollama, client, page_ctx):
    def answer(body):
        assert "same_character" in body["format"]["properties"] and "(bear)" in body["messages"][1]["content"]
        user_images(body)
        return Reply(content=verdict_json(same_character=[{"character": "bear", "same": False, "reason": "blue coat"},
                                                          {"character": "wolf", "same": True, "reason": "?"}]))

    ollama.on_chat = answer
    record = VlmReviewer(client, MODEL).review(write_candidates(page_ctx, [(200, 40, 40)]), page_ctx)
    matches = record.candidates[0].sheet_matches
    assert [(m.character, m.same) for m in matches] == [("bear", False)]
    assert any("'wolf', which has no reference" in n for n in record.notes)


def test_benchmark_separates_on_and_off_model_in_a_small_run(capsys):
    report = measure(cases=16, seed=1)
    assert report.figure_box.auc > 0.9 and report.figure_box.on_model_mean > report.figure_box.off_model_mean
    assert benchmark_main(["--cases", "4"]) == 0 and "agreement" in capsys.readouterr().out
