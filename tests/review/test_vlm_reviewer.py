"""The vlm reviewer against a loopback Ollama: verdicts, ranking, position bias, bad days and fallback."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from artfarm.errors import RunError
from artfarm.models.review import CandidateReview, ReviewerInfo, ReviewRecord, Selection
from artfarm.ollama.errors import OllamaModelMissing, OllamaTimeout
from artfarm.registry import reviewers
from artfarm.review.vlm import VlmOptions, VlmReviewer
from artfarm.review.vlm_prompts import PROMPT_VERSION
from artfarm.settings import resolve_settings
from tests.doubles.fixtures import MODEL, write_candidates
from tests.doubles.judging import judge, purpose, user_images
from tests.doubles.ollama_server import DIGEST, Reply, verdict_json

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)


class FakeFallback:
    """Stands in for the heuristic reviewer: picks the last candidate, says who it is."""

    kind = "fake-heuristic"

    def __init__(self):
        self.calls = 0

    def reference_paths(self, ctx):
        return []

    def identity(self):
        return {"kind": self.kind}

    def review(self, candidates, ctx):
        self.calls += 1
        last = candidates[-1]
        reviews = [CandidateReview(index=c.index, file=c.path.name, sha256=c.sha256) for c in candidates]
        return ReviewRecord(page=ctx.page, status="selected", reviewer=ReviewerInfo(kind=self.kind), candidates=reviews,
                            ranking=[c.index for c in reversed(candidates)],
                            selection=Selection(index=last.index, file=last.path.name, rationale="fallback choice"))


def reviewer(client, **kw) -> VlmReviewer:
    return VlmReviewer(client, MODEL, **kw)


def test_good_verdicts_rank_select_and_record_everything(ollama, client, page_ctx):
    ollama.on_chat = judge({RED: {"scene_match": 4}, GREEN: {"scene_match": 10, "focal_point": 9},
                            BLUE: {"scene_match": 7}})
    cands = write_candidates(page_ctx, [RED, GREEN, BLUE])
    record = reviewer(client).review(cands, page_ctx)

    assert record.status == "selected" and record.ranking == [1, 2, 0]
    assert record.selection.index == 1 and record.selection.file == "draft/draft_01.png"
    assert "candidate 1 ranked first of 3" in record.selection.rationale
    assert record.reviewer == ReviewerInfo(kind="vlm", model=MODEL, digest=DIGEST, prompt_version=PROMPT_VERSION)
    assert record.comparisons == [] and record.fallback is None
    green = record.candidates[1]
    assert green.scores["scene_match"].score == 1.0 and green.scores["scene_match"].reason == "scene_match looks fine"
    assert set(green.scores) == {"scene_match", "no_text", "character_count", "kid_friendly", "anatomy",
                                 "character_consistency", "focal_point", "text_space"}
    assert record.candidates[0].total < record.candidates[2].total < green.total
    # every raw answer is kept, verbatim
    assert [a.raw for a in record.answers] == [c.raw_answer for c in record.candidates]
    assert json.loads(green.raw_answer)["scores"]["scene_match"]["score"] == 10
    ReviewRecord.model_validate_json(record.model_dump_json())  # what lands in review.json reads back


def test_requests_send_small_jpegs_refs_schema_and_fixed_sampling(ollama, client, page_ctx):
    ollama.on_chat = judge({RED: {}})
    reviewer(client).review(write_candidates(page_ctx, [RED], size=(1536, 1024)), page_ctx)
    body = ollama.chats()[0]
    images = [Image.open(io.BytesIO(base64.b64decode(b))) for b in user_images(body)]
    assert [i.format for i in images] == ["JPEG", "JPEG"]
    assert images[0].size == (1024, 683)  # longest edge 1024, never the print file
    assert max(images[1].size) == 512  # the bear's reference picture from the bible
    assert body["options"] == {"temperature": 0.0, "seed": 42} and body["stream"] is False
    assert set(body["format"]["properties"]) == {"scores", "defects", "same_character", "summary"}
    prompt = user_images and body["messages"][1]["content"]
    assert "Bruno" in prompt and "image 2 is Bruno (bear)" in prompt and "1024x683 pixels" in prompt
    assert "printed across the top" in prompt and "no text" in prompt


def test_style_references_follow_the_characters_up_to_max_refs(ollama, client, make_book):
    from tests.bookbuilder import default_spec, png_bytes
    from tests.doubles.fixtures import make_context

    characters = {"characters": [{"id": "bear", "name": "Bruno", "look": "a big brown bear",
                                  "refs": ["bible/character_refs/bear/front.png"]}]}
    style = [f"bible/style_refs/wash{i}.png" for i in range(3)]
    files = {"bible/character_refs/bear/front.png": png_bytes((64, 64)),
             **{rel: png_bytes((64, 64), (10 * i, 90, 200)) for i, rel in enumerate(style)}}
    ctx = make_context(make_book(characters=characters, files=files, specs={1: default_spec(1, refs={"style": style}),
                                                                           2: default_spec(2)}))
    chosen = reviewer(client, options=VlmOptions(max_refs=3)).reference_paths(ctx)
    assert chosen == [("bear", "bible/character_refs/bear/front.png"), (None, style[0]), (None, style[1])]
    ollama.on_chat = judge({RED: {}})
    reviewer(client, options=VlmOptions(max_refs=3)).review(write_candidates(ctx, [RED]), ctx)
    body = ollama.chats()[0]
    assert len(user_images(body)) == 4  # the candidate, the bear, two style references
    assert "image 3 is a style reference; image 4 is a style reference" in body["messages"][1]["content"]


def test_defect_boxes_come_back_in_candidate_pixels(ollama, client, page_ctx):
    defect = {"label": "extra paw", "box": [100, 50, 200, 150], "fix_prompt": "a single paw", "severity": "minor"}
    outside = {"label": "ghost", "box": [2000, 2000, 2100, 2100], "fix_prompt": "x", "severity": "major"}
    ollama.push(verdict_json(defects=[defect, outside]))
    record = reviewer(client).review(write_candidates(page_ctx, [RED], size=(1536, 1024)), page_ctx)
    assert [d.box for d in record.defects] == [(150, 75, 300, 225)]
    assert record.defects[0].fix_prompt == "a single paw" and record.defects[0].severity == "minor"
    assert any("ghost" in n for n in record.notes)


@pytest.mark.parametrize("reply", [
    "```json\n" + verdict_json() + "\n```",
    "Sure! Here is my assessment of the illustration:\n" + verdict_json() + "\nLet me know if you need more.",
])
def test_fenced_or_chatty_json_is_read_without_a_retry(ollama, client, page_ctx, reply):
    ollama.push(reply)
    record = reviewer(client).review(write_candidates(page_ctx, [RED]), page_ctx)
    assert record.status == "selected" and len(ollama.chats()) == 1
    assert record.answers[0].raw == reply and record.answers[0].error is None


def test_schema_breaking_answer_is_retried_with_the_error_quoted(ollama, client, page_ctx):
    broken = json.dumps({"scores": {"scene_match": {"score": 14, "reason": "great"}}, "defects": [], "summary": "s"})
    ollama.push(broken, "this is not json {", verdict_json())
    record = reviewer(client).review(write_candidates(page_ctx, [RED]), page_ctx)
    assert record.status == "selected" and record.fallback is None
    chats = ollama.chats()
    assert len(chats) == 3
    retry = chats[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": broken}
    assert "does not follow the schema" in retry[-1]["content"] and "scores.scene_match.score" in retry[-1]["content"]
    assert "not valid JSON" in chats[2]["messages"][-1]["content"]
    assert [a.attempt for a in record.answers] == [1, 2, 3]
    assert record.answers[0].error and record.answers[1].error and record.answers[2].error is None


def test_always_broken_answers_fall_back_and_say_so(ollama, client, page_ctx):
    ollama.on_chat = lambda body: Reply(content='{"scores": "eight"}')
    fallback = FakeFallback()
    cands = write_candidates(page_ctx, [RED, GREEN])
    record = reviewer(client, fallback=fallback).review(cands, page_ctx)
    assert fallback.calls == 1 and len(ollama.chats()) == 3  # bounded: 3 attempts for the first candidate, then stop
    assert record.reviewer.kind == "fake-heuristic" and record.selection.rationale == "fallback choice"
    assert record.fallback.startswith(f"vlm ({MODEL}): the vision model's verdict of candidate 0 was unusable 3 times")
    assert [a.raw for a in record.answers] == ['{"scores": "eight"}'] * 3


def test_fallback_can_be_built_lazily(ollama, client, page_ctx):
    ollama.on_chat = lambda body: Reply(content="no")
    built = []
    record = reviewer(client, fallback=lambda: built.append(1) or FakeFallback()).review(
        write_candidates(page_ctx, [RED]), page_ctx)
    assert built == [1] and record.fallback


def test_always_broken_without_fallback_is_a_run_error(ollama, client, page_ctx):
    ollama.on_chat = lambda body: Reply(content="no")
    with pytest.raises(RunError, match="unusable 3 times") as err:
        reviewer(client).review(write_candidates(page_ctx, [RED]), page_ctx)
    assert "--review-fallback heuristic" in err.value.fix


def test_timeout_is_exit_3_unless_fallback_was_asked(ollama, client, page_ctx):
    cands = write_candidates(page_ctx, [RED])
    ollama.push(Reply(content=verdict_json(), delay=1.5))
    with pytest.raises(OllamaTimeout) as err:
        reviewer(client, fallback=FakeFallback()).review(cands, page_ctx)
    assert err.value.exit_code == 3
    ollama.push(Reply(content=verdict_json(), delay=1.5))
    record = reviewer(client, fallback=FakeFallback(), fallback_on_service_error=True).review(cands, page_ctx)
    assert record.reviewer.kind == "fake-heuristic" and "did not answer" in record.fallback


def test_model_not_pulled_is_exit_3_unless_fallback_was_asked(ollama, client, page_ctx):
    ollama.models.clear()
    cands = write_candidates(page_ctx, [RED])
    with pytest.raises(OllamaModelMissing) as err:
        reviewer(client).review(cands, page_ctx)
    assert err.value.exit_code == 3 and f"ollama pull {MODEL}" in err.value.fix
    record = reviewer(client, fallback=FakeFallback(), fallback_on_service_error=True).review(cands, page_ctx)
    assert "not pulled" in record.fallback and ollama.chats() == []


def test_near_tie_settled_when_both_orders_agree(ollama, client, page_ctx):
    # RED scores a hair above BLUE, but the model prefers BLUE whichever side it is shown on
    ollama.on_chat = judge({RED: {"focal_point": 9}, BLUE: {}},
                           prefer=lambda first, second: "first" if first[2] > 150 else "second")
    record = reviewer(client).review(write_candidates(page_ctx, [RED, BLUE]), page_ctx)
    assert record.candidates[0].total > record.candidates[1].total
    (cmp,) = record.comparisons
    assert (cmp.a, cmp.b, cmp.winner_ab, cmp.winner_ba, cmp.outcome) == (0, 1, 1, 1, "b")
    assert record.ranking == [1, 0] and record.selection.index == 1
    pair_orders = [a.order for a in record.answers if a.purpose == "pairwise"]
    assert pair_orders == [[0, 1], [1, 0]]


def test_position_bias_counts_as_a_tie_and_is_recorded(ollama, client, page_ctx):
    ollama.on_chat = judge({RED: {"focal_point": 9}, BLUE: {}}, prefer=lambda first, second: "first")
    record = reviewer(client).review(write_candidates(page_ctx, [RED, BLUE]), page_ctx)
    (cmp,) = record.comparisons
    assert (cmp.winner_ab, cmp.winner_ba, cmp.outcome) == (0, 1, "tie")
    assert record.ranking == [0, 1] and record.selection.index == 0
    assert any("counts as a tie" in n for n in record.notes)
    assert "could not break" in record.selection.rationale


def test_clear_lead_asks_no_pairwise_question(ollama, client, page_ctx):
    ollama.on_chat = judge({RED: {"scene_match": 10}, BLUE: {"scene_match": 2}})
    record = reviewer(client).review(write_candidates(page_ctx, [RED, BLUE]), page_ctx)
    assert record.comparisons == [] and all(purpose(b) == "verdict" for b in ollama.chats())


def test_hard_criteria_reject_and_all_rejected_is_said(ollama, client, page_ctx):
    ollama.on_chat = judge({RED: {"no_text": (1, "a shop sign with letters"), "scene_match": 10},
                            BLUE: {"kid_friendly": (0, "a snarling wolf")}})
    record = reviewer(client).review(write_candidates(page_ctx, [RED, BLUE]), page_ctx)
    assert record.status == "rejected_all" and record.selection is None
    assert record.candidates[0].rejected and "shop sign" in record.candidates[0].reject_reason
    ollama.on_chat = judge({RED: {"no_text": 1, "scene_match": 10}, BLUE: {"scene_match": 5}})
    record = reviewer(client).review(write_candidates(page_ctx, [RED, BLUE]), page_ctx)
    assert record.selection.index == 1 and record.ranking == [1, 0]


def test_registry_factory_reads_model_and_url(make_book, ollama):
    from artfarm.book.loader import load_book

    book = load_book(make_book(book={"title": "T", "author": "A", "style_pack": "watercolor_whimsy_v1",
                                     "models": {"vlm": "llava:13b"}, "pages": [{"page": 1}, {"page": 2}]}))
    settings = resolve_settings(book.book, flags={"ollama_url": ollama.url, "review_fallback": "heuristic"})
    made = reviewers.create("vlm", settings, book)
    assert isinstance(made, VlmReviewer) and made.model == "llava:13b"
    assert made.client.base_url == ollama.url and made.fallback_on_service_error
    assert made.identity()["model"] == "llava:13b" and made.identity()["prompt_version"] == PROMPT_VERSION
    made.close()


@pytest.mark.parametrize("option", ["ref_max_edge", "max_refs", "max_attempts", "max_edge", "jpeg_quality", "seed"])
def test_options_that_shape_the_answers_are_in_the_identity(client, option):
    from dataclasses import replace

    plain = VlmReviewer(client, MODEL).identity()
    changed = VlmOptions(**{option: getattr(VlmOptions(), option) + 1})
    assert VlmReviewer(client, MODEL, options=changed).identity() != plain
    assert VlmReviewer(client, MODEL, options=replace(VlmOptions(), keep_alive="1h")).identity() == plain


def test_identity_holds_the_model_digest(ollama, client):
    assert VlmReviewer(client, MODEL).identity()["digest"] == DIGEST
    ollama.models[0]["digest"] = "e" * 64
    assert VlmReviewer(client, MODEL).identity()["digest"] == "e" * 64


def test_every_raw_reply_lands_in_review_json(ollama, client, page_ctx):
    from artfarm.fsio import atomic_write_json

    replies = ["```json\n{oops\n```", verdict_json(scene_match=9), verdict_json(scene_match=9, focal_point=9),
               json.dumps({"better": "second", "reason": "calmer sky"}), json.dumps({"better": "second", "reason": "x"})]
    ollama.push(*replies)
    record = reviewer(client).review(write_candidates(page_ctx, [RED, BLUE]), page_ctx)
    path = atomic_write_json(page_ctx.page_dir / "review.json", record)
    on_disk = ReviewRecord.model_validate_json(path.read_text())
    assert [a.raw for a in on_disk.answers] == replies
    assert [a.purpose for a in on_disk.answers] == ["verdict", "verdict", "verdict", "pairwise", "pairwise"]
    assert on_disk.comparisons[0].outcome == "tie"  # "second" both ways = position bias
