"""render-book with the vision reviewer, as a user runs it: a loopback Ollama and the proof renderer.

Covers the review fallback (flag, exit 3 without it, asked again once Ollama is back), the
registry's lazy heuristic fallback, inpainting per defect with keep/revert, and the
self-improving loop stage (files, best-not-last, limits from flags, status).
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections import deque
from typing import Any

import pytest
from PIL import Image

from artfarm.book.loader import load_book
from artfarm.cli.main import main
from artfarm.fsio import sha256_file
from artfarm.models.loop import IterationRecord, LoopRecord
from artfarm.models.records import BookStatus, RunSummary, StageRecord
from artfarm.models.review import ReviewRecord
from artfarm.ollama.client import OllamaClient
from artfarm.pipeline.engine import RunOptions, render_book
from artfarm.pipeline.progress import Reporter
from artfarm.render.proof import ProofRenderer
from artfarm.review.vlm import VlmReviewer
from artfarm.settings import resolve_settings
from tests.doubles.fixtures import FAST, MODEL, ollama  # noqa: F401  (fixture)
from tests.doubles.judging import purpose, user_images
from tests.doubles.ollama_server import DIGEST, Reply, verdict_json
from tests.pipeline_helpers import write_small_book

DRAFT_PX = 128  # the small book's drafts
REFINED_PX = 232  # refine: half of 1.5 in at 300 ppi, rounded up to a multiple of 8
DEFECTS = [{"label": "stray letters", "box": [10, 10, 40, 40], "fix_prompt": "plain sky", "severity": "minor"},
           {"label": "extra paw", "box": [70, 70, 110, 100], "fix_prompt": "one paw", "severity": "major"}]


def width_of(b64: str) -> int:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        return img.width


def critique_json(scene: int, *, done: bool = False, reason: str = "r", **changes: Any) -> str:
    body = json.loads(verdict_json(scene_match=scene))
    body.update(done=done, composition_wrong=False, reason=reason,
                changes={"prompt_append": "", "neg_append": "", "cfg": None, "steps": None, "seed": None, **changes})
    return json.dumps(body)


class ArtDirector:
    """Answers as a vision model would, by kind of question: the draft burst (128 px, first candidate
    best, with ``draft_defects``), fix-versus-before pairs (``fix_scores``: scene_match of each
    image in the order asked) and loop critiques (``critiques``, in order)."""

    def __init__(self, *, draft_defects=(), runner_up_defects=(), fix_scores=(), critiques=()):
        self.draft_defects, self.runner_up_defects = list(draft_defects), list(runner_up_defects)
        self.fix_scores, self.critiques = deque(fix_scores), deque(critiques)
        self.drafts_seen = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            kind = purpose(body)
            if kind == "critique":
                return Reply(content=self.critiques.popleft())
            if kind == "pairwise":
                return Reply(content=json.dumps({"better": "first", "reason": "r"}))
            if width_of(user_images(body)[0]) == DRAFT_PX:
                self.drafts_seen += 1
                scene = (10, 6, 3)[(self.drafts_seen - 1) % 3]
                defects = {10: self.draft_defects, 6: self.runner_up_defects}.get(scene, [])
                return Reply(content=verdict_json(scene_match=scene, defects=defects))
            return Reply(content=verdict_json(scene_match=self.fix_scores.popleft()))


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def read(model, path):
    return model.model_validate_json(path.read_bytes())


# -- review: Ollama down, the fallback flag, the registry's lazy heuristic ----------------------------------

def test_unreachable_ollama_fails_the_page_with_exit_3_and_names_the_fallback(make_book, books_dir, capsys):
    write_small_book(make_book, pages=1)
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                       "--ollama-url", closed_port_url())
    assert code == 3 and "1 failed" in out
    assert "could not reach Ollama" in out and "--review-fallback heuristic" in out


def test_fallback_flag_reviews_with_heuristic_then_vlm_once_ollama_is_back(make_book, books_dir, capsys, ollama):
    from tests.bookbuilder import png_bytes

    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/sky.png": png_bytes((16, 16), (255, 255, 255))})
    down = closed_port_url()
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", down, "--review-fallback", "heuristic")
    assert code == 0 and "1 done" in out, out + err
    review = read(ReviewRecord, book / "pages/0001/review.json")
    assert review.reviewer.kind == "heuristic" and review.fallback_cause == "service"
    assert "could not reach Ollama" in review.fallback and "--review-fallback heuristic was given" in review.fallback
    fix = read(StageRecord, book / "pages/0001/inpaint/stage.json").fixes[0]
    assert "judged by the fallback reviewer" in fix.reason
    loop = read(LoopRecord, book / "pages/0001/loop/loop.json")  # the loop could not critique: the best so far moves on
    assert loop.stopped == "reviewer_failed" and loop.best_image == "inpaint/inpaint_00.png"
    assert (book / "pages/0001/final/final.png").is_file()

    ollama.on_chat = ArtDirector(fix_scores=[8, 8], critiques=[critique_json(9, done=True, reason="ready to print")])
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                       "--ollama-url", ollama.url, "--review-fallback", "heuristic", "--json")
    summary = RunSummary.model_validate_json(out)
    stages = {o.stage: o for o in summary.pages[0].stages}
    assert code == 0 and stages["review"].action == "ran" and "fallback" in stages["review"].reason
    assert stages["draft"].action == "cached" and stages["loop"].action == "ran"
    assert stages["inpaint"].action == "ran" and "judging again" in stages["inpaint"].reason
    fix = read(StageRecord, book / "pages/0001/inpaint/stage.json").fixes[0]
    assert fix.outcome == "kept" and "fallback" not in fix.reason
    review = read(ReviewRecord, book / "pages/0001/review.json")
    assert review.reviewer.kind == "vlm" and review.fallback is None and review.selection.index == 0
    assert read(LoopRecord, book / "pages/0001/loop/loop.json").stopped == "done"


def test_registry_vlm_falls_back_to_heuristic_when_answers_stay_unusable(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    ollama.on_chat = lambda body: Reply(content="I am sorry, I cannot judge pictures today.")
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url)
    assert code == 0, out + err
    review = read(ReviewRecord, book / "pages/0001/review.json")
    assert review.reviewer.kind == "heuristic" and review.fallback_cause == "answers"
    assert "unusable 3 times" in review.fallback
    assert [a.raw for a in review.answers] == ["I am sorry, I cannot judge pictures today."] * 3
    loop = read(LoopRecord, book / "pages/0001/loop/loop.json")
    assert loop.stopped == "reviewer_failed" and len(loop.failed_answers) == 3
    calls = len(ollama.chats())
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                       "--ollama-url", ollama.url, "--json")
    assert RunSummary.model_validate_json(out).cached == 1 and len(ollama.chats()) == calls  # not asked again


def test_a_slow_ollama_fails_the_page_with_exit_3(make_book, ollama):
    book_dir = write_small_book(make_book, pages=1)
    ollama.on_chat = lambda body: Reply(content=verdict_json(), delay=1.0)
    book = load_book(book_dir)
    with OllamaClient(ollama.url, timeouts=FAST) as client:
        summary = render_book(book, resolve_settings(book.book, {}), RunOptions(), renderer=ProofRenderer(book),
                              reviewer=VlmReviewer(client, MODEL), reporter=Reporter(tty=False))
    assert summary.exit_code == 3 and "did not answer" in summary.pages[0].error


# -- the model's digest and options are part of the review's identity ----------------------------------------

def test_repulling_the_model_under_the_same_tag_redoes_the_review(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    ollama.on_chat = ArtDirector(critiques=[critique_json(9, done=True, reason="ready")] * 2)
    vlm = ("--books", str(books_dir), "--reviewer", "vlm", "--ollama-url", ollama.url)
    assert cli(capsys, "render-book", "testbook", *vlm)[0] == 0
    assert read(ReviewRecord, book / "pages/0001/review.json").reviewer.digest == DIGEST
    _, out, _ = cli(capsys, "status", "testbook", *vlm, "--json")
    assert BookStatus.model_validate_json(out).pages[0].stages["review"] == "done"
    ollama.models[0]["digest"] = "f" * 64  # `ollama pull` brought a new build of the same tag
    _, out, _ = cli(capsys, "status", "testbook", *vlm, "--json")
    row = BookStatus.model_validate_json(out).pages[0]
    assert row.stages["review"] == "stale" and row.reason["review"] == "reviewer changed (digest)"
    code, out, _ = cli(capsys, "render-book", "testbook", *vlm, "--json")
    stages = {o.stage: o for o in RunSummary.model_validate_json(out).pages[0].stages}
    assert code == 0 and stages["draft"].action == "cached" and stages["review"].action == "ran"
    assert read(ReviewRecord, book / "pages/0001/review.json").reviewer.digest == "f" * 64


def test_with_ollama_down_status_and_a_cached_run_use_the_recorded_digest(make_book, books_dir, capsys, ollama):
    write_small_book(make_book, pages=1)
    ollama.on_chat = ArtDirector(critiques=[critique_json(9, done=True, reason="ready")])
    assert cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
               "--ollama-url", ollama.url)[0] == 0
    down = ("--books", str(books_dir), "--reviewer", "vlm", "--ollama-url", closed_port_url())
    code, out, _ = cli(capsys, "status", "testbook", *down, "--json")
    assert code == 0 and set(BookStatus.model_validate_json(out).pages[0].stages.values()) <= {"done", "not-needed"}
    code, out, _ = cli(capsys, "render-book", "testbook", *down, "--json")
    assert code == 0 and RunSummary.model_validate_json(out).cached == 1


# -- inpaint: one job per defect, each kept or reverted -------------------------------------------------------

def test_each_defect_is_inpainted_and_a_worse_fix_is_reverted(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    # fix 0: 5 before -> 9 after (kept); fix 1: 9 before -> 3 after (reverted)
    ollama.on_chat = ArtDirector(draft_defects=DEFECTS, fix_scores=[5, 9, 9, 3])
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url, "--max-loops", "0")
    assert code == 0, out + err
    folder = book / "pages/0001/inpaint"
    record = read(StageRecord, folder / "stage.json")
    first, second = record.fixes
    assert (first.label, first.outcome, second.label, second.outcome) == ("stray letters", "kept", "extra paw", "reverted")
    assert first.box == (18, 18, 72, 72)  # the 128 px draft's box (10, 10, 40, 40) on the 232 px refined image
    assert first.prompt.startswith("plain sky, ") and second.prompt.startswith("one paw, ")
    assert "no text" in first.negative or "text" in first.negative
    assert (first.denoise, second.denoise) == (0.45, 0.7)  # minor repaints less than major
    assert "below" in second.reason and second.after_score < second.before_score
    for fix in record.fixes:
        with Image.open(folder / fix.mask) as mask:
            assert mask.size == (REFINED_PX, REFINED_PX) and mask.getpixel((fix.box[0] + 5, fix.box[1] + 5)) == 255
            assert mask.getpixel((REFINED_PX - 1, 0)) == 0
        assert sha256_file(folder / fix.result) == fix.result_sha256
        assert len(read(ReviewRecord, folder / fix.review).answers) == 2
    # the kept fix is the stage's picture; the reverted one went nowhere
    assert sha256_file(folder / "inpaint_00.png") == first.result_sha256
    upscale = read(StageRecord, book / "pages/0001/upscale/stage.json")
    assert upscale.params["image"] == "pages/0001/inpaint/inpaint_00.png"
    # the second fix started from the first fix's image
    assert sha256_file(folder / "fix_01_00.png") != sha256_file(folder / "fix_00_00.png")

    asked = len(ollama.chats())
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                       "--ollama-url", ollama.url, "--max-loops", "0", "--json")
    assert code == 0 and RunSummary.model_validate_json(out).cached == 1 and len(ollama.chats()) == asked


def test_a_person_choosing_another_candidate_inpaints_that_candidates_defects(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    ollama.on_chat = ArtDirector(draft_defects=DEFECTS[:1], runner_up_defects=DEFECTS[1:], fix_scores=[5, 9])
    vlm = ("--books", str(books_dir), "--reviewer", "vlm", "--ollama-url", ollama.url, "--max-loops", "0")
    assert cli(capsys, "render-book", "testbook", *vlm)[0] == 0
    assert [f.label for f in read(StageRecord, book / "pages/0001/inpaint/stage.json").fixes] == ["stray letters"]
    code, _, err = cli(capsys, "review", "testbook", "1", "--books", str(books_dir), "--select", "1", "--reason", "better bear")
    assert code == 0, err
    review = read(ReviewRecord, book / "pages/0001/review.json")
    assert review.selection.index == 1 and [d.label for d in review.defects] == ["extra paw"]
    ollama.on_chat.fix_scores.extend([5, 9])
    code, out, err = cli(capsys, "render-book", "testbook", *vlm)
    assert code == 0, out + err
    fixes = read(StageRecord, book / "pages/0001/inpaint/stage.json").fixes
    assert [(f.label, f.box) for f in fixes] == [("extra paw", (127, 127, 199, 181))]  # candidate 1's box, scaled
    assert read(StageRecord, book / "pages/0001/selected/stage.json").outputs[0].seed == 1002


def test_a_person_choosing_a_clean_candidate_skips_inpaint(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    ollama.on_chat = ArtDirector(draft_defects=DEFECTS, fix_scores=[5, 9, 9, 3])
    vlm = ("--books", str(books_dir), "--reviewer", "vlm", "--ollama-url", ollama.url, "--max-loops", "0")
    assert cli(capsys, "render-book", "testbook", *vlm)[0] == 0
    assert cli(capsys, "review", "testbook", "1", "--books", str(books_dir), "--select", "2", "--reason", "calm")[0] == 0
    assert read(ReviewRecord, book / "pages/0001/review.json").defects == []
    code, out, _ = cli(capsys, "render-book", "testbook", *vlm, "--json")
    stages = {o.stage: o.action for o in RunSummary.model_validate_json(out).pages[0].stages}
    assert code == 0 and stages["review"] == "ran" and stages["inpaint"] == "not-needed"
    assert read(StageRecord, book / "pages/0001/upscale/stage.json").params["image"] == "pages/0001/refine/refine_00.png"


def test_vlm_reverts_a_hand_mask_repaint_that_scores_worse_and_logs_it(make_book, books_dir, capsys, ollama, caplog):
    from tests.bookbuilder import png_bytes

    caplog.set_level("INFO", logger="artfarm.pipeline")
    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/hat.png": png_bytes((16, 16), (255, 255, 255))})
    ollama.on_chat = ArtDirector(fix_scores=[9, 3])
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url, "--max-loops", "0")
    assert code == 0, out + err
    [fix] = read(StageRecord, book / "pages/0001/inpaint/stage.json").fixes
    assert fix.source == "mask_file" and fix.outcome == "reverted" and "below" in fix.reason
    assert "page 1 inpaint: fix 0 (mask hat) reverted: the fix scores" in caplog.text
    assert sha256_file(book / "pages/0001/inpaint/inpaint_00.png") == sha256_file(book / "pages/0001/refine/refine_00.png")


def test_a_hand_mask_changes_the_inpaint_key_only(make_book, books_dir, capsys):
    from tests.bookbuilder import png_bytes

    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/cloud.png": png_bytes((20, 20), (255, 255, 255))})
    (book / "pages/0001/masks/cloud.json").write_text(json.dumps({"fix_prompt": "a soft cloud", "severity": "minor"}))
    assert cli(capsys, "render-book", "testbook", "--books", str(books_dir))[0] == 0
    record = read(StageRecord, book / "pages/0001/inpaint/stage.json")
    assert record.fixes[0].prompt.startswith("a soft cloud") and record.fixes[0].denoise == 0.45
    (book / "pages/0001/masks/cloud.json").write_text(json.dumps({"fix_prompt": "a bird", "severity": "major"}))
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--json")
    stages = {o.stage: o for o in RunSummary.model_validate_json(out).pages[0].stages}
    assert stages["refine"].action == "cached" and stages["inpaint"].action == "ran"
    assert stages["inpaint"].reason == "defects or masks to inpaint changed"


# -- the self-improving loop ---------------------------------------------------------------------------------

def test_loop_keeps_the_best_not_the_last_and_upscale_gets_it(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    ollama.on_chat = ArtDirector(critiques=[
        critique_json(5, prompt_append="warm morning light"),  # the refined image
        critique_json(9, prompt_append="soft shadows"),  # iteration 1: better, kept
        critique_json(4),  # iteration 2: worse, reverted
        critique_json(9, done=True, reason="ready to print"),  # asked again from the best
    ])
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url)
    assert code == 0, out + err
    loop_dir = book / "pages/0001/loop"
    loop = read(LoopRecord, loop_dir / "loop.json")
    assert loop.stopped == "done" and loop.iterations == ["loop_01_iter_01.json", "loop_01_iter_02.json"]
    assert loop.best_image == "loop/loop_01_iter_01.png"
    second = read(IterationRecord, loop_dir / "loop_01_iter_02.json")
    assert read(IterationRecord, loop_dir / "loop_01_iter_01.json").source_image == "refine/refine_00.png"
    assert second.outcome == "reverted" and second.changes.params.prompt.endswith("warm morning light, soft shadows")
    assert (loop_dir / "loop_01_iter_02.png").is_file() and not list(loop_dir.glob("*_render_*"))
    record = read(StageRecord, loop_dir / "stage.json")
    assert sha256_file(loop_dir / "best.png") == sha256_file(loop_dir / "loop_01_iter_01.png") == record.outputs[0].sha256
    assert record.prompts.positive.endswith("warm morning light")
    upscale = read(StageRecord, book / "pages/0001/upscale/stage.json")
    assert upscale.params["image"] == "pages/0001/loop/best.png"

    code, out, _ = cli(capsys, "status", "testbook", "--books", str(books_dir), "--reviewer", "vlm")
    assert out.splitlines()[1].split() == ["1", "done", "done", "done", "-", "done", "done", "done"]
    # a longer loop is a change of the loop's inputs; the stages before it stay done
    _, out, _ = cli(capsys, "status", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                    "--iterations-per-loop", "5", "--json")
    row = BookStatus.model_validate_json(out).pages[0]
    assert row.stages["inpaint"] == "not-needed" and row.stages["refine"] == "done" and row.stages["loop"] == "stale"
    assert row.reason["loop"] == "loop limits changed (iterations_per_loop)"


def test_loop_iterates_from_the_inpainted_image_at_the_refine_denoise(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    ollama.on_chat = ArtDirector(draft_defects=DEFECTS[:1], fix_scores=[5, 9], critiques=[
        critique_json(5, prompt_append="warm morning light"), critique_json(9, done=True, reason="ready")])
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url)
    assert code == 0, out + err
    assert read(StageRecord, book / "pages/0001/inpaint/stage.json").fixes[0].outcome == "kept"
    first = read(IterationRecord, book / "pages/0001/loop/loop_01_iter_01.json")
    assert first.source_image == "inpaint/inpaint_00.png"  # the kept fix is what the loop improves
    loop = read(StageRecord, book / "pages/0001/loop/stage.json")
    refine = read(StageRecord, book / "pages/0001/refine/stage.json")
    assert loop.params["image"] == "pages/0001/inpaint/inpaint_00.png" and loop.params["denoise"] == refine.params["denoise"]


def test_loop_stops_when_the_reviewer_repeats_a_change_already_tried(make_book, books_dir, capsys, ollama):
    book = write_small_book(make_book, pages=1)
    same = critique_json(5, prompt_append="warm morning light")  # after each revert the model says the same again
    ollama.on_chat = ArtDirector(critiques=[same, critique_json(4)] * 3)
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url)
    assert code == 0, out + err
    loop_dir = book / "pages/0001/loop"
    loop = read(LoopRecord, loop_dir / "loop.json")
    assert loop.stopped == "no_changes" and loop.note.startswith("no new changes: prompt + 'warm morning light'")
    assert "loop_01_iter_01" in loop.note and loop.iterations == ["loop_01_iter_01.json"]  # not rendered twice
    assert loop.best_image == "refine/refine_00.png"
    record = read(StageRecord, loop_dir / "stage.json")
    assert record.notes[0].startswith("loop stopped: no_changes (no new changes")


def test_loop_limits_come_from_book_yaml_and_flags(make_book, books_dir, capsys, ollama):
    from tests.pipeline_helpers import small_book_data

    data = small_book_data(1)
    data["render"] = {"reviewer": "vlm", "review": {"iterations_per_loop": 1, "max_loops": 2}}
    book = write_small_book(make_book, pages=1, book=data)
    never_done = [critique_json(5 + i, prompt_append=f"detail {i}") for i in range(10)]
    ollama.on_chat = ArtDirector(critiques=never_done)
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--ollama-url", ollama.url)
    assert code == 0, out + err
    loop = read(LoopRecord, book / "pages/0001/loop/loop.json")
    assert loop.stopped == "limits" and loop.iterations == ["loop_01_iter_01.json", "loop_02_iter_01.json"]
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--ollama-url", ollama.url,
                       "--max-loops", "0", "--json")
    stages = {o.stage: o.action for o in RunSummary.model_validate_json(out).pages[0].stages}
    assert code == 0 and stages["loop"] == "not-needed" and stages["upscale"] == "ran"


@pytest.mark.parametrize("flag", ["--max-loops", "--iterations-per-loop"])
def test_negative_loop_limits_are_bad_input(make_book, books_dir, capsys, flag):
    write_small_book(make_book, pages=1)
    assert cli(capsys, "render-book", "testbook", "--books", str(books_dir), flag, "-1")[0] == 2


def test_pages_reviewed_by_vlm_in_parallel(make_book, books_dir, capsys, ollama, caplog):
    caplog.set_level("INFO")
    book = write_small_book(make_book, pages=3)

    def answer(body: dict[str, Any]) -> Reply:
        kind = purpose(body)
        if kind == "critique":
            return Reply(content=critique_json(9, done=True, reason="ready"))
        if kind == "pairwise":
            return Reply(content=json.dumps({"better": "first", "reason": "r"}))
        return Reply(content=verdict_json())

    ollama.on_chat = answer
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "vlm",
                         "--ollama-url", ollama.url, "--jobs", "3")
    assert code == 0 and "3 done" in out, out + err
    for page in (1, 2, 3):
        assert read(ReviewRecord, book / f"pages/{page:04d}/review.json").reviewer.kind == "vlm"
        assert read(LoopRecord, book / f"pages/{page:04d}/loop/loop.json").stopped == "done"
    assert "HTTP Request" not in caplog.text  # httpx's line per request stays out of the log
