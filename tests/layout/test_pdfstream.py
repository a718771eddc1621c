import io

from pypdf import PdfReader
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from artfarm.layout.pdfstream import SlotTable, splice


def jpeg(size, colour):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG")
    return buf.getvalue(), size[0], size[1]


def test_each_stand_in_is_replaced_by_its_own_image_one_at_a_time():
    skeleton, slots = io.BytesIO(), SlotTable()
    canvas = Canvas(skeleton, pagesize=(200, 200))
    wanted = [((40, 30), (255, 0, 0)), ((50, 60), (0, 255, 0)), ((70, 20), (0, 0, 255))]
    for item in wanted:
        canvas.drawImage(slots.stand_in(item), 10, 10, 100, 100)
        canvas.drawString(20, 150, f"page {len(slots.items)}")
        canvas.showPage()
    canvas.save()
    encoded = []

    def encode(item):
        encoded.append(item)
        return jpeg(*item)

    out = io.BytesIO()
    assert splice(skeleton.getvalue(), out, slots, encode) == 3
    assert sorted(encoded) == sorted(wanted)
    reader = PdfReader(io.BytesIO(out.getvalue()), strict=True)
    for number, (page, (size, colour)) in enumerate(zip(reader.pages, wanted), start=1):
        (image,) = page.images
        assert image.image.size == size
        r, g, b = image.image.convert("RGB").getpixel((size[0] // 2, size[1] // 2))
        assert max(abs(r - colour[0]), abs(g - colour[1]), abs(b - colour[2])) < 8
        assert f"page {number}" in page.extract_text()
