"""The self-improving loop: guard rails, revert of a regression, best-not-last, limits, everything logged."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest
from PIL import Image

from artfarm.models.loop import Critique, IterationRecord, LoopChanges, LoopParams, LoopRecord
from artfarm.models.review import CriterionScore, Defect, ReviewAnswer
from artfarm.ollama.errors import OllamaTimeout
from artfarm.review.answers import AnswerUnusable
from artfarm.review.loop import GuardRails, LoopLimits, RenderAgain, apply_changes, run_loop
from artfarm.review.vlm import VlmReviewer
from tests.doubles.fixtures import MODEL
from tests.doubles.judging import purpose
from tests.doubles.ollama_server import Reply, verdict_json

START = LoopParams(prompt="watercolor, a bear", negative="text", cfg=6.0, steps=30, seed=1234)


def crit(score: float, *, done=False, reason="r", defects=(), composition_wrong=False, **changes) -> Critique:
    return Critique(score=score, done=done, reason=reason, defects=list(defects), composition_wrong=composition_wrong,
                    changes=LoopChanges(**changes), answers=[ReviewAnswer(purpose="critique", attempt=1, raw=f"raw {score}")])


class ScriptedJudge:
    def __init__(self, *critiques):
        self.script = deque(critiques)
        self.calls: list[tuple[str, LoopParams, list[str]]] = []

    def critique(self, image, ctx, params, history):
        self.calls.append((Path(image).name, params, list(history)))
        item = self.script.popleft()
        if isinstance(item, Exception):
            raise item
        return item


class Renderer:
    """Renders somewhere outside loop/ (the loop copies the result in); remembers each request."""

    def __init__(self, tmp: Path):
        self.tmp, self.requests = tmp, []

    def __call__(self, job: RenderAgain) -> Path:
        self.requests.append(job)
        out = self.tmp / f"render_{len(self.requests)}.png"
        Image.new("RGB", (64, 64), (len(self.requests) * 30, job.loop * 50, 0)).save(out)
        return out


@pytest.fixture
def start_image(page_ctx):
    path = page_ctx.page_dir / "refine" / "refine_00.png"
    path.parent.mkdir(parents=True)
    Image.new("RGB", (64, 64), (5, 5, 5)).save(path)
    return path


def go(page_ctx, start_image, judge, render, iterations=3, loops=1, **kw) -> LoopRecord:
    return run_loop(start_image=start_image, start_params=START, ctx=page_ctx, judge=judge, render=render,
                    limits=LoopLimits(iterations_per_loop=iterations, max_loops=loops), **kw)


def read_iter(page_ctx, name) -> IterationRecord:
    return IterationRecord.model_validate_json((page_ctx.page_dir / "loop" / name).read_text())


def test_improve_then_done(page_ctx, start_image, tmp_path):
    judge = ScriptedJudge(crit(0.5, prompt_append="soft morning light"), crit(0.8, done=True, reason="ready"))
    render = Renderer(tmp_path)
    record = go(page_ctx, start_image, judge, render)
    assert record.stopped == "done" and record.note == "ready"
    assert record.best_image == "loop/loop_01_iter_01.png" and record.best_score == 0.8
    assert record.best_params.prompt == "watercolor, a bear, soft morning light"
    loop_dir = page_ctx.page_dir / "loop"
    assert sorted(p.name for p in loop_dir.iterdir()) == ["loop.json", "loop_01_iter_01.json", "loop_01_iter_01.png"]
    it = read_iter(page_ctx, "loop_01_iter_01.json")
    assert it.outcome == "improved" and it.source_image == "refine/refine_00.png"
    assert it.asked.answers[0].raw == "raw 0.5" and it.result.answers[0].raw == "raw 0.8"
    assert LoopRecord.model_validate_json((loop_dir / "loop.json").read_text()) == record
    assert render.requests[0].params.seed == START.seed  # the seed stays locked


def test_regression_is_reverted_and_the_next_try_starts_from_the_best(page_ctx, start_image, tmp_path):
    judge = ScriptedJudge(crit(0.6, cfg=7.5),  # start
                          crit(0.4),  # iter 1 worse -> reverted
                          crit(0.6, steps=36),  # asked again from the best (the start)
                          crit(0.75))  # iter 2 better
    render = Renderer(tmp_path)
    record = go(page_ctx, start_image, judge, render, iterations=2)
    assert record.stopped == "limits" and record.best_image == "loop/loop_01_iter_02.png"
    assert [r.params.cfg for r in render.requests] == [7.5, 6.0]  # the reverted cfg is not carried on
    assert render.requests[1].params.steps == 36
    assert read_iter(page_ctx, "loop_01_iter_01.json").outcome == "reverted"
    assert read_iter(page_ctx, "loop_01_iter_02.json").outcome == "improved"
    # the re-ask saw the best image and was told what failed
    name, params, history = judge.calls[2]
    assert name == "refine_00.png" and params == START
    assert "cfg 6 -> 7.5: scored 0.40, not better than 0.60; reverted" in history[0]


def test_the_best_image_moves_on_not_the_last(page_ctx, start_image, tmp_path):
    judge = ScriptedJudge(crit(0.5, prompt_append="a"), crit(0.8, prompt_append="b"), crit(0.6))
    record = go(page_ctx, start_image, judge, Renderer(tmp_path), iterations=2)
    assert record.best_image == "loop/loop_01_iter_01.png" and record.best_score == 0.8
    assert record.best_params.prompt.endswith(", a") and len(judge.calls) == 3  # no re-ask after the last turn
    assert (page_ctx.page_dir / "loop" / "loop_01_iter_02.png").is_file()


def test_a_rejected_image_never_beats_an_accepted_one(page_ctx, start_image, tmp_path):
    bad = crit(0.9)
    bad = bad.model_copy(update={"rejected": True, "reject_reason": "no_text 0.1"})
    record = go(page_ctx, start_image, ScriptedJudge(crit(0.5, prompt_append="x"), bad), Renderer(tmp_path), iterations=1)
    assert record.best_image == "refine/refine_00.png" and record.best_score == 0.5


def test_limits_bound_iterations_and_loops_chain_from_the_best(page_ctx, start_image, tmp_path):
    scores = [0.1, 0.2, 0.3, 0.4, 0.5]
    judge = ScriptedJudge(*[crit(s, prompt_append=f"t{i}") for i, s in enumerate(scores)])
    render = Renderer(tmp_path)
    record = go(page_ctx, start_image, judge, render, iterations=2, loops=2)
    assert len(render.requests) == 4 and record.stopped == "limits"
    assert record.iterations == ["loop_01_iter_01.json", "loop_01_iter_02.json",
                                 "loop_02_iter_01.json", "loop_02_iter_02.json"]
    sources = [r.source_image.name for r in render.requests]
    assert sources == ["refine_00.png", "refine_00.png", "loop_01_iter_02.png", "loop_01_iter_02.png"]
    assert record.best_image == "loop/loop_02_iter_02.png"


@pytest.mark.parametrize("iterations,loops", [(0, 1), (3, 0)])
def test_zero_limits_switch_the_loop_off(page_ctx, start_image, tmp_path, iterations, loops):
    judge, render = ScriptedJudge(), Renderer(tmp_path)
    record = go(page_ctx, start_image, judge, render, iterations=iterations, loops=loops)
    assert record.stopped == "no_loops" and record.best_image == "refine/refine_00.png"
    assert judge.calls == [] and render.requests == []


def test_nothing_to_change_stops_without_rendering(page_ctx, start_image, tmp_path):
    judge = ScriptedJudge(crit(0.5, neg_append="dragons", seed=9))
    render = Renderer(tmp_path)
    record = go(page_ctx, start_image, judge, render)
    assert record.stopped == "no_changes" and render.requests == []
    assert "not a problem the reviewer reported seeing" in record.note and "seed stays locked" in record.note


def test_reviewer_failure_mid_loop_keeps_the_best_and_the_raw_answers(page_ctx, start_image, tmp_path):
    broken = AnswerUnusable("unusable 3 times", [ReviewAnswer(purpose="critique", attempt=i, raw="nope", error="e")
                                                 for i in (1, 2, 3)])
    record = go(page_ctx, start_image, ScriptedJudge(crit(0.5, prompt_append="x"), broken), Renderer(tmp_path))
    assert record.stopped == "reviewer_failed" and record.best_image == "refine/refine_00.png"
    assert [a.raw for a in record.failed_answers] == ["nope"] * 3
    assert read_iter(page_ctx, "loop_01_iter_01.json").outcome == "unjudged"


def test_service_errors_raise_unless_tolerated(page_ctx, start_image, tmp_path):
    timeout = OllamaTimeout("slow", where="http://x")
    with pytest.raises(OllamaTimeout):
        go(page_ctx, start_image, ScriptedJudge(timeout), Renderer(tmp_path))
    record = go(page_ctx, start_image, ScriptedJudge(timeout), Renderer(tmp_path), tolerate_service_errors=True)
    assert record.stopped == "reviewer_failed" and "slow" in record.note


def test_stale_iterations_of_an_earlier_run_are_removed(page_ctx, start_image, tmp_path):
    loop_dir = page_ctx.page_dir / "loop"
    loop_dir.mkdir()
    (loop_dir / "loop_01_iter_03.png").write_bytes(b"old")
    go(page_ctx, start_image, ScriptedJudge(crit(0.5, done=True)), Renderer(tmp_path))
    assert sorted(p.name for p in loop_dir.iterdir()) == ["loop.json"]


# -- guard rails -------------------------------------------------------------------------------------
def test_prompt_growth_is_capped_and_duplicates_skipped():
    c = crit(0.5, prompt_append="a bear, golden light, " + ", ".join(f"detail number {i}" for i in range(10)))
    out = apply_changes(START, START, c, GuardRails(max_prompt_growth=60))
    assert out.params.prompt.startswith("watercolor, a bear, golden light, detail number 0")
    assert len(out.params.prompt) - len(START.prompt) <= 60
    assert any("capped at 60 characters" in r for r in out.refused)
    assert out.params.prompt.count("a bear") == 1


def test_negative_terms_only_for_defects_seen():
    c = crit(0.5, neg_append="extra paws, dragons, blurry letters",
             defects=[Defect(label="extra paw on the bear", box=(0, 0, 5, 5))])
    c.scores["no_text"] = CriterionScore(score=0.2, reason="letters on a sign")
    out = apply_changes(START, START, c)
    assert out.params.negative == "text, extra paws, blurry letters"
    assert out.refused == ["negative term 'dragons': not a problem the reviewer reported seeing"]


def test_no_negative_terms_for_a_family_without_a_negative_prompt():
    """Flux and Kontext graphs have no negative prompt: the loop refuses such changes instead of failing the job."""
    c = crit(0.5, neg_append="extra paws", defects=[Defect(label="extra paw on the bear", box=(0, 0, 5, 5))])
    out = apply_changes(START, START, c, GuardRails(negative_prompt=False))
    assert out.params.negative == START.negative
    assert out.refused == ["negative term 'extra paws': this model family has no negative prompt"]


def test_seed_locked_unless_composition_is_wrong():
    locked = apply_changes(START, START, crit(0.5, seed=77))
    assert locked.params.seed == START.seed and "stays locked" in locked.refused[0]
    moved = apply_changes(START, START, crit(0.5, seed=77, composition_wrong=True))
    assert moved.params.seed == 77
    fresh = apply_changes(START, START, crit(0.5, composition_wrong=True))
    assert fresh.params.seed != START.seed


def test_cfg_and_steps_stay_near_the_start():
    out = apply_changes(START, START, crit(0.5, cfg=15.0, steps=100))
    assert out.params.cfg == 8.0 and out.params.steps == 42
    assert len(out.refused) == 2


# -- with the vlm reviewer on a loopback Ollama ---------------------------------------------------------
def test_vlm_critique_drives_the_loop_and_every_raw_answer_is_on_disk(ollama, client, page_ctx, start_image, tmp_path):
    first = json.loads(verdict_json(scene_match=5, defects=[{"label": "extra paw", "box": [1, 1, 20, 20],
                                                             "fix_prompt": "one paw", "severity": "minor"}]))
    first.update(done=False, composition_wrong=False, reason="the light is flat",
                 changes={"prompt_append": "warm golden light", "neg_append": "extra paw", "cfg": 6.5, "steps": None,
                          "seed": 5})
    second = json.loads(verdict_json(scene_match=9))
    second.update(done=True, composition_wrong=False, reason="good to print", changes={})
    ollama.push("not json", json.dumps(first), json.dumps(second))
    record = go(page_ctx, start_image, VlmReviewer(client, MODEL), Renderer(tmp_path))
    assert record.stopped == "done" and record.best_image == "loop/loop_01_iter_01.png"
    assert all(purpose(b) == "critique" for b in ollama.chats())
    it = read_iter(page_ctx, "loop_01_iter_01.json")
    assert [a.raw for a in it.asked.answers] == ["not json", json.dumps(first)]
    assert it.result.answers[0].raw == json.dumps(second)
    assert it.changes.params.prompt.endswith("warm golden light") and it.changes.params.negative.endswith("extra paw")
    assert it.changes.params.seed == START.seed and it.asked.defects[0].box == (1, 1, 20, 20)
    assert "cfg 6, steps 30, seed 1234" in ollama.chats()[0]["messages"][1]["content"]
