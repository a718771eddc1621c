"""How often does a reviewer agree with a labelled set? Accuracy per criterion, printed.

    python benchmarks/reviewer_agreement.py --reviewer heuristic
    python benchmarks/reviewer_agreement.py --reviewer vlm --ollama-url http://127.0.0.1:11434 --model qwen2.5vl:7b
    python benchmarks/reviewer_agreement.py --reviewer vlm --set path/to/set   # a set of your own

A set is a book folder with ``labels.json`` (see benchmarks/reviewer_set.py): groups of
images reviewed together as one page's candidates, each with expected verdicts. A
criterion passes when the reviewer scores it 0.5 or more; ``rejected`` compares the
reviewer's rejection. Labels use the vision reviewer's criterion names; a reviewer that
measures the same thing under another name answers for it (``ANSWERED_BY``: the heuristic's
``calm_space`` is ``text_space``). Criteria a reviewer does not score are listed as not judged.
Without --set the built-in constructed set is generated into a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, computed_field

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artfarm.book.files import load_model  # noqa: E402
from artfarm.book.loader import load_book  # noqa: E402
from artfarm.errors import ArtfarmError, ValidationFailed  # noqa: E402
from artfarm.fsio import sha256_file  # noqa: E402
from artfarm.prompts.compile import compile_prompt  # noqa: E402
from artfarm.registry import reviewers  # noqa: E402
from artfarm.review.base import Candidate, ReviewContext, Reviewer  # noqa: E402
from artfarm.settings import resolve_settings  # noqa: E402
from benchmarks.reviewer_set import BOOK_ID, LabelSet, build  # noqa: E402

PASS_AT = 0.5
# Label criterion -> the score names that answer it, first found wins (vlm name first, then the heuristic's).
ANSWERED_BY = {"text_space": ("text_space", "calm_space")}


class CriterionTally(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labelled: int = 0
    judged: int = 0
    correct: int = 0
    misses: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None


class AgreementReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str
    set: str
    images: int
    groups: int
    seconds: float
    fallbacks: list[str] = Field(default_factory=list)
    criteria: dict[str, CriterionTally]

    def table(self) -> str:
        lines = [f"reviewer {self.reviewer} on {self.set}: {self.images} images in {self.groups} groups, {self.seconds:.1f}s",
                 f"{'criterion':<24}{'judged':>8}{'correct':>9}{'accuracy':>10}"]
        for name, t in sorted(self.criteria.items()):
            acc = "not judged" if t.accuracy is None else f"{t.accuracy:.0%}"
            lines.append(f"{name:<24}{t.judged:>5}/{t.labelled:<3}{t.correct:>8}{acc:>11}")
        for name, t in sorted(self.criteria.items()):
            lines += [f"  miss {name}: {m}" for m in t.misses]
        lines += [f"  fallback: {f}" for f in self.fallbacks]
        return "\n".join(lines)


def load_labels(set_dir: Path) -> LabelSet:
    labels, findings = load_model(set_dir / "labels.json", LabelSet, display=str(set_dir / "labels.json"))
    if labels is None:
        raise ValidationFailed(findings, where=str(set_dir))
    return labels


def context(set_dir: Path, page: int) -> ReviewContext:
    book = load_book(set_dir)
    spec = book.require_spec(page)
    pack = book.style_packs[spec.style_pack]
    entry = book.page_entry(page)
    return ReviewContext(book=book, page=page, spec=spec, pack=pack, prompt=compile_prompt(spec, book.characters, pack.pack),
                         text_placement=(entry.placement if entry and entry.placement else "auto"),
                         page_dir=book.page_dir(page))


def measure(reviewer: Reviewer, set_dir: Path, *, name: str | None = None) -> AgreementReport:
    set_dir = Path(set_dir).resolve()
    labels = load_labels(set_dir)
    ctx = context(set_dir, labels.page)
    tallies: dict[str, CriterionTally] = {}
    fallbacks: list[str] = []
    started = time.perf_counter()
    count = 0
    for group in labels.groups:
        candidates = [Candidate(index=i, path=set_dir / item.file, seed=None, sha256=sha256_file(set_dir / item.file))
                      for i, item in enumerate(group.candidates)]
        record = reviewer.review(candidates, ctx)
        if record.fallback:
            fallbacks.append(f"{group.name}: {record.fallback}")
        verdicts = {c.index: c for c in record.candidates}
        for i, item in enumerate(group.candidates):
            count += 1
            got = verdicts.get(i)
            expected = dict(item.expect)
            if item.rejected is not None:
                expected["rejected"] = "fail" if item.rejected else "pass"
            for criterion, want in expected.items():
                tally = tallies.setdefault(criterion, CriterionTally())
                tally.labelled += 1
                if got is None:
                    continue
                if criterion == "rejected":
                    verdict = "fail" if got.rejected else "pass"
                else:
                    answer = next((got.scores[n] for n in ANSWERED_BY.get(criterion, (criterion,)) if n in got.scores), None)
                    if answer is None:
                        continue
                    verdict = "pass" if answer.score >= PASS_AT else "fail"
                tally.judged += 1
                if verdict == want:
                    tally.correct += 1
                else:
                    tally.misses.append(f"{group.name}/{Path(item.file).name}: expected {want}, got {verdict}")
    return AgreementReport(reviewer=name or getattr(reviewer, "kind", "?"), set=str(set_dir), images=count,
                           groups=len(labels.groups), seconds=time.perf_counter() - started, fallbacks=fallbacks,
                           criteria=tallies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviewer", required=True, help=f"a registered reviewer: {', '.join(reviewers.names())}")
    parser.add_argument("--set", type=Path, help="a labelled set folder (default: the built-in constructed set)")
    parser.add_argument("--ollama-url", help="Ollama server for the vlm reviewer")
    parser.add_argument("--model", help="vision model for the vlm reviewer (default: the set's book.yaml models.vlm)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="artfarm-reviewer-set-") as tmp:
            set_dir = args.set or build(Path(tmp) / BOOK_ID)
            book = load_book(set_dir)
            if args.model:
                book.book.models.vlm = args.model
            settings = resolve_settings(book.book, flags={"ollama_url": args.ollama_url})
            reviewer = reviewers.create(args.reviewer, settings, book)
            report = measure(reviewer, set_dir, name=args.reviewer)
            if args.set is None:
                report.set = "built-in constructed set (benchmarks/reviewer_set.py)"
    except ArtfarmError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except ImportError as exc:
        print(f"reviewer '{args.reviewer}' is registered but its module is not in this checkout ({exc})", file=sys.stderr)
        return 2
    print(report.model_dump_json(indent=2) if args.json else report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
