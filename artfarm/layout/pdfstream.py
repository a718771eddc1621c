"""Write a PDF whose images are streamed in one at a time, so memory does not grow with page count.

ReportLab keeps every image of a document in memory until it saves. So the pages are first
drawn with a 1x1 stand-in image per art slot (a "skeleton": text, fonts and vectors, a few
hundred KB), then the skeleton is copied object by object to the output file and each
stand-in is replaced by the real JPEG, encoded just before it is written and dropped after.
Each stand-in's single pixel encodes its slot number, so no guessing about which is which.
"""

from __future__ import annotations

import base64
import re
import zlib
from typing import BinaryIO, Callable

from PIL import Image
from reportlab.lib.utils import ImageReader

from artfarm.errors import RunError

EncodedImage = tuple[bytes, int, int]  # JPEG bytes, width, height

_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_ONE_BY_ONE_W = re.compile(rb"/Width 1\b")
_ONE_BY_ONE_H = re.compile(rb"/Height 1\b")


class SlotTable:
    """Hands out stand-in images during drawing and remembers which art each slot stands for."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def stand_in(self, item: object) -> ImageReader:
        self.items.append(item)
        index = len(self.items)  # 1-based: black (0) is never a slot
        pixel = ((index >> 16) & 255, (index >> 8) & 255, index & 255)
        return ImageReader(Image.new("RGB", (1, 1), pixel))


def splice(skeleton: bytes, out: BinaryIO, slots: SlotTable, encode: Callable[[object], EncodedImage], *,
           cmyk: bool = False) -> int:
    """Copy ``skeleton`` to ``out`` with each stand-in image replaced by ``encode(item)``; returns images written.

    ``cmyk``: the JPEGs are CMYK as Pillow writes them (Adobe convention, inverted), hence the Decode array.
    """
    colour_space = "/DeviceCMYK /Decode [1 0 1 0 1 0 1 0]" if cmyk else "/DeviceRGB"
    startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", skeleton).group(1))
    xref = skeleton[startxref:]
    header = re.match(rb"xref\s+0\s+(\d+)\s+", xref)
    if header is None:
        raise RunError("the PDF skeleton has no classic xref table", where="layout", fix="report this as a bug")
    count = int(header.group(1))
    entries = _XREF_ENTRY.findall(xref[header.end():], )[:count]
    offsets = sorted((int(off), num) for num, (off, _gen, kind) in enumerate(entries) if kind == b"n")
    trailer = skeleton[skeleton.index(b"trailer", startxref):skeleton.rindex(b"startxref")]

    written = out.write(skeleton[:offsets[0][0]])
    new_offsets: dict[int, int] = {}
    replaced = 0
    for i, (offset, num) in enumerate(offsets):
        end = offsets[i + 1][0] if i + 1 < len(offsets) else startxref
        body = skeleton[offset:end]
        new_offsets[num] = written
        index = _slot_index(body)
        if index is None:
            written += out.write(body)
            continue
        data, width, height = encode(slots.items[index - 1])
        head = (f"{num} 0 obj\n<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
                f"/ColorSpace {colour_space} /BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>\nstream\n").encode()
        written += out.write(head)
        written += out.write(data)
        written += out.write(b"\nendstream\nendobj\n")
        replaced += 1
        del data
    xref_at = written
    lines = [b"xref\n", f"0 {count}\n".encode(), b"0000000000 65535 f \n"]
    for num in range(1, count):
        lines.append(f"{new_offsets.get(num, 0):010d} 00000 n \n".encode())
    out.write(b"".join(lines) + trailer + f"startxref\n{xref_at}\n%%EOF\n".encode())
    if replaced != len(slots.items):
        raise RunError(f"placed {replaced} of {len(slots.items)} images", where="layout", fix="report this as a bug")
    return replaced


def _slot_index(body: bytes) -> int | None:
    """The slot number of a stand-in image object, or None for any other object."""
    head = body[:400]
    if b"/Subtype /Image" not in head or not _ONE_BY_ONE_W.search(head) or not _ONE_BY_ONE_H.search(head):
        return None
    start = body.index(b"stream", body.index(b">>")) + len(b"stream")
    data = body[start:body.rindex(b"endstream")].strip()
    if b"/ASCII85Decode" in head:
        data = base64.a85decode(data.removesuffix(b"~>"))
    if b"/FlateDecode" in head:
        data = zlib.decompress(data)
    if len(data) < 3:
        return None
    index = (data[0] << 16) | (data[1] << 8) | data[2]
    return index or None
