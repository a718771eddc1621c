"""Benchmark: time and peak memory of `export-pdf` for a picture book with 3072x4096 final art.

Each measurement runs in a fresh child process so its peak RSS is its own. Memory must not
grow with page count (art is streamed into the PDF one image at a time), so the same book is
laid out at 8 and at 32 pages and the two peaks are printed side by side.

The PDF/X row is `--printer ingramspark`: art converted to CMYK (littleCMS), read back and checked.

    .venv/bin/python benchmarks/bench_pdf.py [--pages 8 32] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
ART_SIZE = (3072, 4096)
TRIM = "8.5x11"

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from artfarm.book.loader import load_book
from artfarm.layout import export as ex
from artfarm.layout.draw import interior_page
from artfarm.layout.fonts import load_fonts
from artfarm.layout.plan import PlanContext, plan_interior
from artfarm.layout.printers import load_profile

book_dir = Path({book!r})
mode = {mode!r}
t0 = time.perf_counter()
if mode == "interior":
    loaded = load_book(book_dir)
    fonts = load_fonts(loaded.book.layout.typography.font, loaded.root)
    printer = load_profile("generic")
    ctx = PlanContext(book=loaded.book, book_dir=loaded.root, fonts=fonts, palette=ex._palette(loaded),
                      sources=ex._art_sources(loaded, False, printer), printer=printer)
    pages = plan_interior(ctx)
    t_plan = time.perf_counter() - t0
    meta = dict(title="t", author="a", subject="s", lang="en", font=fonts.regular.name,
                print_quality=printer.interior_jpeg_quality)
    with open(book_dir / "bench_pages.pdf", "wb") as out:
        ex._write(out, meta, loaded.root, lambda c, s: [interior_page(c, s, p, "print") for p in pages])
    size = (book_dir / "bench_pages.pdf").stat().st_size
else:
    report = ex.export_pdf(book_dir, force=True, printer="ingramspark" if mode == "pdfx" else None)
    t_plan = None
    size = sum(o.bytes for o in report.outputs)
seconds = time.perf_counter() - t0
# VmHWM is this process's own high-water mark (ru_maxrss can carry the parent's over fork+exec).
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
peak_mib = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "plan_seconds": t_plan, "peak_mib": peak_mib, "bytes": size}}))
"""


def make_art(path: Path) -> None:
    """A painterly-ish test image: smooth gradients with texture, so JPEG sizes are realistic."""
    w, h = ART_SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 9, size=(h // 8, w // 8, 3)).astype(np.float32).repeat(8, 0).repeat(8, 1)
    img = np.stack([150 + 80 * np.sin(x / 400), 140 + 70 * np.cos(y / 500), 120 + 60 * np.sin((x + y) / 700)], axis=-1)
    Image.fromarray(np.clip(img + noise, 0, 255).astype(np.uint8)).save(path, compress_level=1)


def make_book(root: Path, pages: int, art: Path) -> Path:
    book_dir = root / f"bench{pages}"
    book = {"title": "Benchmark Book", "author": "Bench Mark", "style_pack": "watercolor_whimsy_v1",
            "layout": {"trim": TRIM},
            "pages": [{"page": n, "text": f"Page {n}: Bruno the bear and Ginger walk through the quiet snowy forest."}
                      for n in range(1, pages + 1)]}
    (book_dir / "bible").mkdir(parents=True)
    (book_dir / "book.yaml").write_text(yaml.safe_dump(book, sort_keys=False))
    (book_dir / "bible/characters.yaml").write_text("characters: []\n")
    for page in range(0, pages + 1):
        final = book_dir / f"pages/{page:04d}/final/final.png"
        final.parent.mkdir(parents=True)
        shutil.copyfile(art, final)
        spec = {"book_id": book_dir.name, "page": page, "intent": "cover" if page == 0 else "illustration",
                "scene": "a forest", "style_pack": "watercolor_whimsy_v1", "seed": page}
        (book_dir / f"pages/{page:04d}/renderspec.json").write_text(json.dumps(spec))
    return book_dir


def measure(book_dir: Path, mode: str) -> dict:
    code = CHILD.format(repo=str(REPO), book=str(book_dir), mode=mode)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"benchmark child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--keep", type=Path, default=None, help="build the books here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="artfarm-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        art = root / "art.png"
        make_art(art)
        print(f"art {ART_SIZE[0]}x{ART_SIZE[1]} px, trim {TRIM} in (about {ART_SIZE[0] / 8.625:.0f} ppi placed)")
        print(f"{'pages':>5} {'what':<22} {'seconds':>8} {'s/page':>7} {'peak MiB':>9} {'MB out':>8}")
        peaks = {}
        for pages in args.pages:
            book_dir = make_book(root, pages, art)
            for mode, label in (("interior", "print interior PDF"), ("export", "export-pdf (all 3)"),
                                ("pdfx", "export-pdf PDF/X CMYK")):
                r = measure(book_dir, mode)
                peaks[(pages, mode)] = r["peak_mib"]
                print(f"{pages:>5} {label:<22} {r['seconds']:>8.2f} {r['seconds'] / pages:>7.2f} {r['peak_mib']:>9.0f} {r['bytes'] / 1e6:>8.1f}")
        lo, hi = min(args.pages), max(args.pages)
        for mode in ("interior", "export", "pdfx"):
            ratio = peaks[(hi, mode)] / peaks[(lo, mode)]
            print(f"peak memory {hi} vs {lo} pages ({mode}): x{ratio:.2f} for x{hi / lo:.0f} the pages")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
