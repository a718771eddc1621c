"""Benchmark: the size of a 32-page print interior at 300 ppi for each JPEG quality, on real pictures.

KDP advises interiors under 40 MB; printers.yaml's ``interior_jpeg_quality`` for kdp is the
highest quality this keeps under that on real illustrations and photographs (noise would make
every quality look too big; flat proof art every quality too small). Give it a folder of
pictures, e.g. Debian's wallpapers (`apt-get download gnome-backgrounds`, then
`dpkg-deb -x gnome-backgrounds_*.deb x`): each is cropped to fill an 8.5 x 8.5 in page with
bleed (2588 x 2625 px at 300 ppi) and the pages cycle through them.

    .venv/bin/python benchmarks/bench_jpeg_size.py --images x/usr/share/backgrounds/gnome [--pages 32]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

from artfarm.layout.art import crop_to_fill, cropped

PAGE_PX = (2588, 2625)  # (8.5 + 0.125) x (8.5 + 0.25) in at 300 ppi
QUALITIES = (95, 92, 90, 88, 85, 80)


def page_sizes(images: list[Path], quality: int, pages: int) -> list[int]:
    sizes = []
    for i in range(pages):
        with Image.open(images[i % len(images)]) as img:
            rgb = img.convert("RGB")
        crop = crop_to_fill(rgb.width, rgb.height, *PAGE_PX)
        page = cropped(rgb, crop, PAGE_PX)
        buf = io.BytesIO()
        page.save(buf, format="JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
        sizes.append(buf.tell())
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=32)
    args = parser.parse_args()
    images = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    print(f"{len(images)} pictures, {args.pages} pages of {PAGE_PX[0]}x{PAGE_PX[1]} px")
    for quality in QUALITIES:
        sizes = page_sizes(images, quality, args.pages)
        print(f"quality {quality}: {sum(sizes) / 1e6:6.1f} MB for {args.pages} pages "
              f"(largest page {max(sizes) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
