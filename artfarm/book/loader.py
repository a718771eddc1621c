"""Read a whole book and check it, collecting every problem instead of stopping at the first.

A page whose RenderSpec is wrong is kept out of ``specs`` and its findings are kept per
page, so a run can fail that page alone while the rest of the book renders.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping

from artfarm.book.family_checks import family_book_findings, family_page_findings
from artfarm.book.files import load_model, read_data, validate_data
from artfarm.book.paths import book_id_of, page_dir, page_dir_name, resolve_inside
from artfarm.errors import BadInputError, ImageFileError, ParseError, PathEscapeError, ValidationFailed
from artfarm.families import family_info
from artfarm.findings import Finding
from artfarm.images import load_image
from artfarm import stylepacks
from artfarm.models.book import Book, PageEntry
from artfarm.models.characters import CharacterBible
from artfarm.models.palette import Palette
from artfarm.models.renderspec import RenderSpec
from artfarm.prompts.compile import chunk_warnings, compile_prompt, constraint_count, constraint_terms
from artfarm.stylepacks import LoadedStylePack

PAGE_FOLDER = re.compile(r"^\d{4}$")
_ON_DISK = object()  # _check_spec reads the page's file


@dataclass
class LoadedBook:
    root: Path
    id: str
    book: Book
    characters: CharacterBible
    specs: dict[int, RenderSpec]
    style_packs: dict[str, LoadedStylePack]
    book_findings: list[Finding] = field(default_factory=list)
    page_findings: dict[int, list[Finding]] = field(default_factory=dict)
    # The bible's unusable reference pictures: reported once, and an error of each page whose cast uses them
    # (those pages fail alone; the book still loads).
    reference_findings: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return _once(self.book_findings + self.reference_findings
                     + [f for page in sorted(self.page_findings) for f in self.page_findings[page]])

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def page_dir(self, page: int) -> Path:
        return page_dir(self.root, page)

    def page_entry(self, page: int) -> PageEntry | None:
        return next((p for p in self.book.pages if p.page == page), None)

    def art_pages(self) -> list[int]:
        """Pages that have art of their own, in book order, cover (0) first."""
        return sorted(self.specs_expected())

    def specs_expected(self) -> set[int]:
        listed = set(self.book.page_numbers()) - self.book.spread_continuations()
        on_disk = {p for p in self.specs} | set(self.page_findings)
        return listed | on_disk

    def require_spec(self, page: int) -> RenderSpec:
        """The page's valid RenderSpec, or the error that says why there is none (or why its files are unusable)."""
        problems = [f for f in self.page_findings.get(page, []) if f.severity == "error"]
        if page in self.specs and not problems:
            return self.specs[page]
        if problems:
            raise ValidationFailed(problems, where=f"page {page}")
        raise BadInputError(f"page {page} has no RenderSpec", where=str(self.page_dir(page)),
                            fix=f"pages with RenderSpecs: {', '.join(map(str, sorted(self.specs))) or 'none'}")

    def resolve(self, relative: str, *, what: str = "path") -> Path:
        return resolve_inside(self.root, relative, what=what)


def inspect_book(book_dir: Path, *, proposed: Mapping[int, Any] | None = None) -> tuple[LoadedBook | None, list[Finding]]:
    """Everything wrong with a book, and the book itself when book.yaml is readable.

    ``proposed`` maps a page to RenderSpec data checked as if its file held it (nothing is
    written), so a spec can be validated against the whole book before it is saved."""
    proposed = proposed or {}
    root = Path(book_dir).resolve()
    book_id = book_id_of(root)
    findings: list[Finding] = []

    book, book_problems = load_model(root / "book.yaml", Book, display="book.yaml")
    findings += book_problems

    characters = CharacterBible()
    bible_file = root / "bible" / "characters.yaml"
    if bible_file.is_file():
        loaded, problems = load_model(bible_file, CharacterBible, display="bible/characters.yaml")
        findings += problems
        characters = loaded or characters
    else:
        findings.append(Finding(severity="warning", file="bible/characters.yaml", message="file is missing; no characters are defined",
                                fix="create it with a `characters:` list (see `artfarm schema characters`)"))
    findings += _check_characters(root, characters)
    refs_by_character = _check_character_refs(root, characters)
    for palette_file in sorted((root / "bible" / "palettes").glob("*.yaml")):
        findings += load_model(palette_file, Palette, display=palette_file.relative_to(root).as_posix())[1]

    packs: dict[str, LoadedStylePack] = {}
    tried_packs: set[str] = set()

    def pack(name: str, file: str) -> list[Finding]:
        """Findings for the file that names a pack; a broken pack file is reported once, book-wide."""
        if name not in tried_packs:
            tried_packs.add(name)
            if stylepacks.find(name, root) is not None:
                loaded_pack, problems = stylepacks.load(name, root)
                findings.extend(problems)
                if loaded_pack:
                    packs[name] = loaded_pack
        if name in packs:
            return []
        if stylepacks.find(name, root) is None:
            return [Finding(file=file, path="$.style_pack", message=f"unknown style pack '{name}'",
                            fix=f"use one of: {', '.join(stylepacks.available(root)) or 'none found'}; "
                                f"or add style_packs/{name}/pack.yaml to the book")]
        return [Finding(file=file, path="$.style_pack", message=f"style pack '{name}' has errors (listed above)",
                        fix="fix the style pack's pack.yaml")]

    if book is not None:
        findings += pack(book.style_pack, "book.yaml")
        findings += _check_page_list(book)

    specs: dict[int, RenderSpec] = {}
    page_findings: dict[int, list[Finding]] = {}
    pages_root = root / "pages"
    folders = sorted(p for p in pages_root.iterdir() if p.is_dir()) if pages_root.is_dir() else []
    folders = sorted({*folders, *(pages_root / page_dir_name(n) for n in proposed)})
    for folder in folders:
        if not PAGE_FOLDER.match(folder.name):
            findings.append(Finding(file=f"pages/{folder.name}", message="page folder name is not four digits",
                                    fix="rename it to the page number in four digits, e.g. pages/0007 for page 7"))
            continue
        number = int(folder.name)
        spec, problems = _check_spec(root, book_id, number, characters, book, pack, proposed.get(number, _ON_DISK))
        if spec is not None and book is not None:
            problems = problems + family_page_findings(book, characters, number, spec)
        if spec is not None:
            problems = problems + _cast_ref_findings(spec, refs_by_character)
        if spec is not None and not any(f.severity == "error" for f in problems):
            specs[number] = spec
            if spec.style_pack in packs:
                problems = problems + _check_prompt_length(number, spec, characters, packs[spec.style_pack],
                                                           book.models.family if book else "sd15")
        problems += _check_masks(root, number)
        if problems:
            page_findings[number] = problems

    if book is not None:
        continuation = book.spread_continuations()
        for entry in book.pages:
            if entry.page in continuation:
                continue
            if entry.page not in specs and entry.page not in page_findings:
                rel = f"pages/{page_dir_name(entry.page)}/renderspec.json"
                page_findings.setdefault(entry.page, []).append(Finding(
                    file=rel, message=f"page {entry.page} is listed in book.yaml but has no RenderSpec",
                    fix=f"write {rel} (copy another page's and edit it)"))
        listed = set(book.page_numbers())
        for number in sorted(set(specs) | set(page_findings)):
            if number != 0 and number not in listed:
                page_findings.setdefault(number, []).append(Finding(
                    severity="warning", file=f"pages/{page_dir_name(number)}/renderspec.json",
                    message=f"page {number} has a RenderSpec but is not listed in book.yaml pages",
                    fix=f"add `- page: {number}` with its text to book.yaml, or delete the folder"))

    if book is not None:
        findings += family_book_findings(book, characters, packs, specs)
    reference_findings = [f for char_findings in refs_by_character.values() for f in char_findings]
    all_findings = _once(findings + reference_findings + [f for n in sorted(page_findings) for f in page_findings[n]])
    if book is None:
        return None, all_findings
    loaded_book = LoadedBook(root=root, id=book_id, book=book, characters=characters, specs=specs,
                             style_packs=packs, book_findings=findings, page_findings=page_findings,
                             reference_findings=reference_findings)
    return loaded_book, all_findings


def load_book(book_dir: Path) -> LoadedBook:
    """A book whose book-level files are sound; pages with problems are reported per page."""
    loaded, findings = inspect_book(book_dir)
    if loaded is None or any(f.severity == "error" for f in loaded.book_findings):
        raise ValidationFailed(findings, where=str(book_dir))
    return loaded


def _check_prompt_length(number: int, spec: RenderSpec, bible: CharacterBible, pack: LoadedStylePack,
                         family: str = "sd15") -> list[Finding]:
    """CLIP's 75-token chunks matter to the families that read terms through CLIP alone (sd15, sdxl)."""
    if family_info(family).prompt_style != "terms":
        return []
    compiled = compile_prompt(spec, bible, pack.pack)
    return [Finding(severity="warning", file=f"pages/{page_dir_name(number)}/renderspec.json", message=line,
                    fix="shorten the scene, the characters' look (bible/characters.yaml) or the style pack's terms; "
                        "`artfarm prompt` shows the counts")
            for line in chunk_warnings(compiled)]


def _check_characters(root: Path, bible: CharacterBible) -> list[Finding]:
    out = []
    seen: set[str] = set()
    for i, char in enumerate(bible.characters):
        if char.id in seen:
            out.append(Finding(file="bible/characters.yaml", path=f"$.characters[{i}].id",
                               message=f"character id '{char.id}' is defined twice", fix="give each character a unique id"))
        seen.add(char.id)
    return out


def _check_character_refs(root: Path, bible: CharacterBible) -> dict[str, list[Finding]]:
    """Each character's unusable reference pictures (missing, outside the book, not an image), by id."""
    out: dict[str, list[Finding]] = {}
    for i, char in enumerate(bible.characters):
        problems = _check_paths(root, "bible/characters.yaml", f"$.characters[{i}].refs", char.refs)
        if problems:
            out.setdefault(char.id, []).extend(problems)
    return out


def _cast_ref_findings(spec: RenderSpec, refs_by_character: dict[str, list[Finding]]) -> list[Finding]:
    """The bible's reference problems of the characters a page shows or names refs for: that page's errors too."""
    used = [c.id for c in spec.characters] + list(spec.refs.characters)
    return [f for char_id in dict.fromkeys(used) for f in refs_by_character.get(char_id, [])]


def _once(findings: list[Finding]) -> list[Finding]:
    """A reference finding is listed once, though every page using it holds it."""
    seen: set[int] = set()
    return [f for f in findings if not (id(f) in seen or seen.add(id(f)))]


def _check_page_list(book: Book) -> list[Finding]:
    out = []
    seen: dict[int, int] = {}
    for i, entry in enumerate(book.pages):
        if entry.page in seen:
            out.append(Finding(file="book.yaml", path=f"$.pages[{i}].page",
                               message=f"page {entry.page} is listed twice (also at $.pages[{seen[entry.page]}])",
                               fix="keep one entry per page number"))
        seen.setdefault(entry.page, i)
        if entry.spread and entry.page % 2:
            out.append(Finding(file="book.yaml", path=f"$.pages[{i}].spread",
                               message=f"a spread must start on an even (left-hand) page; page {entry.page} is odd",
                               fix="start the spread one page earlier or later"))
        if entry.spread and entry.page + 1 not in {p.page for p in book.pages}:
            out.append(Finding(file="book.yaml", path=f"$.pages[{i}].spread",
                               message=f"spread on page {entry.page} needs page {entry.page + 1} in the page list",
                               fix=f"add `- page: {entry.page + 1}` (its text) to book.yaml"))
    return out


def _check_spec(root: Path, book_id: str, number: int, bible: CharacterBible, book: Book | None,
                pack, raw: Any = _ON_DISK) -> tuple[RenderSpec | None, list[Finding]]:
    rel = f"pages/{page_dir_name(number)}/renderspec.json"
    if raw is _ON_DISK:
        path = root / rel
        if not path.is_file():
            if book is not None and number in book.spread_continuations():
                return None, []
            return None, [Finding(file=rel, message="RenderSpec file is missing",
                                  fix=f"write {rel}, or delete the empty folder pages/{page_dir_name(number)}")]
        try:
            raw = read_data(path, display=rel)
        except ParseError as exc:
            return None, [Finding(file=rel, message=exc.what, fix=exc.fix)]
    spec, problems = validate_data(raw, RenderSpec, display=rel)
    view = spec if spec is not None else _lenient_view(raw)
    if view is None:
        return None, problems
    flagged = {f.path for f in problems}
    return spec, problems + [f for f in _check_spec_meaning(root, rel, book_id, number, bible, view, pack)
                             if f.path not in flagged]


def _lenient_view(raw: Any) -> SimpleNamespace | None:
    """The parts of an invalid RenderSpec that are well-typed, so its other problems are reported in the
    same pass (every problem at once); ill-typed parts are None and skipped."""
    if not isinstance(raw, dict):
        return None

    def typed(value: Any, kind: type) -> Any:
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    def strings(value: Any) -> list[str | None]:
        return [typed(v, str) for v in value] if isinstance(value, list) else []

    refs = raw.get("refs") if isinstance(raw.get("refs"), dict) else {}
    cast = raw.get("characters") if isinstance(raw.get("characters"), list) else []
    by_char = refs.get("characters") if isinstance(refs.get("characters"), dict) else {}
    return SimpleNamespace(
        page=typed(raw.get("page"), int), book_id=typed(raw.get("book_id"), str), intent=typed(raw.get("intent"), str),
        style_pack=typed(raw.get("style_pack"), str), constraints=strings(raw.get("constraints")),
        characters=[SimpleNamespace(id=typed(c.get("id"), str) if isinstance(c, dict) else None) for c in cast],
        refs=SimpleNamespace(style=strings(refs.get("style")), characters={k: strings(v) for k, v in by_char.items()}))


def _check_spec_meaning(root: Path, rel: str, book_id: str, number: int, bible: CharacterBible, spec: Any,
                        pack) -> list[Finding]:
    """What a schema cannot check: agreement with the folder, the bible, the style packs and the files."""
    out: list[Finding] = []
    if spec.page is not None and spec.page != number:
        out.append(Finding(file=rel, path="$.page", message=f"page is {spec.page} but the folder is for page {number}",
                           fix=f"set \"page\": {number}, or move the file to pages/{page_dir_name(spec.page)}/"))
    if spec.book_id is not None and spec.book_id != book_id:
        out.append(Finding(file=rel, path="$.book_id", message=f"book_id is '{spec.book_id}' but the book folder is '{book_id}'",
                           fix=f"set \"book_id\": \"{book_id}\""))
    if spec.intent is not None and (spec.intent == "cover") != (number == 0):
        out.append(Finding(file=rel, path="$.intent",
                           message="the cover is page 0 and only page 0 has intent 'cover'",
                           fix="use intent 'cover' in pages/0000 only, 'illustration' or 'spot' elsewhere"))
    if spec.style_pack is not None:
        out += pack(spec.style_pack, rel)
    known = bible.by_id()
    for i, cast in enumerate(spec.characters):
        if cast.id is not None and cast.id not in known:
            out.append(Finding(file=rel, path=f"$.characters[{i}].id", message=f"character '{cast.id}' is not in bible/characters.yaml",
                               fix=f"use one of: {', '.join(sorted(known)) or 'none defined'}; or add '{cast.id}' to the bible"))
    out += _check_paths(root, rel, "$.refs.style", spec.refs.style)
    for char_id, paths in spec.refs.characters.items():
        if char_id not in known:
            out.append(Finding(file=rel, path=f"$.refs.characters[{char_id!r}]",
                               message=f"refs name character '{char_id}' that is not in bible/characters.yaml",
                               fix="use a character id from the bible"))
        out += _check_paths(root, rel, f"$.refs.characters[{char_id!r}]", paths)
    for i, rule in enumerate(spec.constraints):
        if rule is not None and not constraint_terms(rule)[2]:
            out.append(Finding(severity="warning", file=rel, path=f"$.constraints[{i}]",
                               message=f"constraint {rule!r} mentions text but is not a 'no ...' rule, so it is left out of the prompt",
                               fix="text is laid out in the PDF, never drawn; write 'no text' or 'calm space at the top'"))
    cast_size = len(spec.characters)
    for i, rule in enumerate(spec.constraints):
        count = constraint_count(rule) if rule is not None else None
        if count is not None and cast_size and count != cast_size:
            out.append(Finding(severity="warning", file=rel, path=f"$.constraints[{i}]",
                               message=f"constraint {rule!r} asks for {count} character(s) but the scene lists {cast_size}",
                               fix="make them agree: list every character in `characters`, or change the constraint "
                                   "(the constraint's count is the one the prompt uses)"))
    return out


def _check_paths(root: Path, file: str, json_path: str, paths: list[str]) -> list[Finding]:
    out = []
    for i, rel in enumerate(paths):
        if rel is None:
            continue
        where = f"{json_path}[{i}]"
        try:
            resolved = resolve_inside(root, rel, what="reference")
        except PathEscapeError as exc:
            out.append(Finding(file=file, path=where, message=exc.what, fix=exc.fix))
            continue
        if not resolved.is_file():
            out.append(Finding(file=file, path=where, message=f"reference file '{rel}' does not exist",
                               fix="check the spelling, or add the file under the book folder"))
            continue
        out += _check_image(resolved, file, where, f"reference {rel!r}")
    return out


def _check_image(path: Path, file: str, where: str, what: str) -> list[Finding]:
    """Open the image as a run would (the one loader), so a bad file is found now, not by a reviewer."""
    try:
        stat = path.stat()
    except OSError:
        return []
    problem = _image_problem(str(path), stat.st_mtime_ns, stat.st_size, what)
    return [Finding(file=file, path=where, message=problem[0], fix=problem[1])] if problem else []


@functools.lru_cache(maxsize=1024)
def _image_problem(path: str, mtime_ns: int, size: int, what: str) -> tuple[str, str | None] | None:
    """Decoded once per file version: many pages name the same reference."""
    try:
        load_image(Path(path), what=what)
    except ImageFileError as exc:
        return exc.what, exc.fix
    return None


def _check_masks(root: Path, number: int) -> list[Finding]:
    """Every hand-made mask of a page: inside the page folder, and an image artfarm can read."""
    from artfarm.review.masks import MASK_SUFFIXES

    masks_dir = page_dir(root, number) / "masks"
    if not masks_dir.is_dir():
        return []
    out = []
    for path in sorted(p for p in masks_dir.iterdir() if p.suffix.lower() in MASK_SUFFIXES):
        rel = f"pages/{page_dir_name(number)}/masks/{path.name}"
        try:
            resolved = resolve_inside(masks_dir.parent, f"masks/{path.name}", what="mask")
        except PathEscapeError as exc:
            out.append(Finding(file=rel, message=exc.what, fix=exc.fix))
            continue
        if resolved.is_file():
            out += _check_image(resolved, rel, "$", "mask")
    return out
