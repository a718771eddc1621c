"""The reviewer-agreement benchmark counts agreement per criterion over the constructed labelled set."""

from __future__ import annotations

import socket

from PIL import Image, ImageChops

from artfarm.models.review import CandidateReview, CriterionScore, ReviewerInfo, ReviewRecord
from benchmarks.reviewer_agreement import load_labels, main, measure
from benchmarks.reviewer_set import build


class ConstantReviewer:
    """Passes every criterion it knows and rejects nothing: agrees exactly with the 'pass' labels."""

    kind = "constant"

    def identity(self):
        return {"kind": self.kind}

    def review(self, candidates, ctx):
        scores = {"no_text": CriterionScore(score=0.9), "scene_match": CriterionScore(score=0.9)}
        return ReviewRecord(page=ctx.page, status="waiting", reviewer=ReviewerInfo(kind=self.kind),
                            candidates=[CandidateReview(index=c.index, file=c.path.name, sha256=c.sha256, scores=scores)
                                        for c in candidates])


def test_constructed_set_is_deterministic_and_labelled(tmp_path):
    a, b = build(tmp_path / "a" / "set"), build(tmp_path / "b" / "set")
    labels = load_labels(a)
    files = {c.file for g in labels.groups for c in g.candidates}
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    same = ImageChops.difference(Image.open(a / "images/clean_meadow.png"), Image.open(a / "images/clean_meadow_copy.png"))
    assert same.getbbox() is None  # the duplicate really is one
    assert {g.name for g in labels.groups} == {"text", "blank", "duplicates", "palette", "text_space"}


def test_accuracy_per_criterion(tmp_path):
    report = measure(ConstantReviewer(), build(tmp_path / "set"))
    c = report.criteria
    assert (c["no_text"].labelled, c["no_text"].judged, c["no_text"].correct) == (3, 3, 1)
    assert (c["scene_match"].judged, c["scene_match"].correct) == (3, 1)
    assert c["rejected"].judged == 9 and c["rejected"].correct == 4  # rejects nothing: right on the 4 keepers
    assert c["palette"].judged == 0 and c["palette"].accuracy is None
    table = report.table()
    assert "palette" in table and "not judged" in table and "33%" in table
    assert "miss no_text: text/text_sign.png: expected fail, got pass" in table


def test_vlm_without_ollama_exits_3_with_the_fix(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["--reviewer", "vlm", "--ollama-url", f"http://127.0.0.1:{port}"])
    assert code == 3 and "ollama serve" in capsys.readouterr().err


def test_vlm_is_measured_through_ollama(ollama, capsys):
    from tests.doubles.judging import judge

    # a model that sees text on every picture except pure colours: half right on no_text
    ollama.on_chat = judge({(255, 255, 255): {}, (128, 128, 128): {}, (160, 180, 200): {"no_text": 1}})
    code = main(["--reviewer", "vlm", "--ollama-url", ollama.url, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    import json

    report = json.loads(out)
    assert report["reviewer"] == "vlm" and report["images"] == 15
    assert report["criteria"]["no_text"]["judged"] == 3 and report["criteria"]["palette"]["judged"] == 0


def test_heuristic_has_a_measured_baseline(capsys):
    """The heuristic answers for text_space with its calm_space score; a busy sky fails it."""
    code = main(["--reviewer", "heuristic", "--json"])
    import json

    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["reviewer"] == "heuristic"
    c = report["criteria"]
    assert (c["palette"]["judged"], c["text_space"]["judged"], c["rejected"]["judged"]) == (2, 4, 9)
    assert c["no_text"]["judged"] == 0  # the heuristic cannot see text: not judged, rather than guessed
    assert not any("busy_sky" in m for m in c["text_space"]["misses"])
