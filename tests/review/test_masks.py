"""Defects become feathered masks at the image's size, clipped to it; each job gets a prompt and a denoise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from artfarm.errors import BadInputError, ValidationFailed
from artfarm.models.renderspec import InpaintOverrides
from artfarm.models.review import Defect
from artfarm.review.masks import box_mask, denoise_for, feather_radius, mask_from_file, mask_png, plan_inpaint

SIZE = (640, 480)


def test_box_mask_is_full_over_the_box_and_fades_out():
    feather = feather_radius(SIZE)
    mask = np.asarray(box_mask(SIZE, (100, 120, 300, 260)))
    assert mask.shape == (480, 640) and mask.dtype == np.uint8
    assert mask[120:260, 100:300].min() >= 250 and mask[130:250, 110:290].min() == 255
    assert mask[190, 300 + feather // 2] > 0  # soft edge just outside the box
    far = 2 * feather + 2
    assert mask[:120 - far].max() == 0 and mask[260 + far:].max() == 0
    assert mask[:, :100 - far].max() == 0 and mask[:, 300 + far:].max() == 0


def test_box_partly_outside_is_clipped_and_keeps_the_edge_full():
    mask = np.asarray(box_mask(SIZE, (-50, 400, 120, 900)))
    assert mask.shape == (480, 640)
    assert mask[400:480, 0:120].min() >= 250  # full strength right up to the image's edges
    assert mask[:300].max() == 0


def test_box_entirely_outside_is_refused():
    with pytest.raises(BadInputError, match="outside the 640x480 image"):
        box_mask(SIZE, (700, 10, 800, 50))


def test_reversed_corners_are_accepted():
    assert np.array_equal(np.asarray(box_mask(SIZE, (300, 260, 100, 120))), np.asarray(box_mask(SIZE, (100, 120, 300, 260))))


def test_hand_mask_is_scaled_to_the_image(tmp_path):
    hand = Image.new("L", (320, 240), 0)
    hand.paste(255, (160, 120, 320, 240))  # bottom-right quarter, at half size
    hand.save(tmp_path / "m.png")
    mask = np.asarray(mask_from_file(tmp_path / "m.png", SIZE))
    assert mask.shape == (480, 640)
    assert mask[250:480, 330:640].min() >= 250 and mask[:200, :280].max() == 0


def test_hand_mask_with_transparency_uses_alpha(tmp_path):
    hand = Image.new("RGBA", SIZE, (255, 255, 255, 0))
    hand.paste((0, 0, 0, 255), (10, 10, 60, 60))  # black but opaque: the painted area
    hand.save(tmp_path / "m.png")
    mask = np.asarray(mask_from_file(tmp_path / "m.png", SIZE))
    assert mask[15:55, 15:55].min() == 255 and mask[200:, 200:].max() == 0


def test_empty_hand_mask_is_refused(tmp_path):
    Image.new("L", SIZE, 0).save(tmp_path / "m.png")
    with pytest.raises(BadInputError, match="empty"):
        mask_from_file(tmp_path / "m.png", SIZE)


def test_denoise_by_severity_override_and_request():
    assert denoise_for("minor") < denoise_for("major")
    assert denoise_for("major", override=InpaintOverrides(denoise=0.3)) == 0.3
    assert denoise_for("major", requested=0.9, override=InpaintOverrides(denoise=0.3)) == 0.9


def test_plan_inpaint_per_defect_and_per_hand_mask(tmp_path, page_ctx):
    image = tmp_path / "selected.png"
    Image.new("RGB", SIZE, (200, 200, 200)).save(image)
    masks = tmp_path / "masks"
    masks.mkdir()
    hand = Image.new("L", SIZE, 0)
    hand.paste(255, (0, 0, 50, 50))
    hand.save(masks / "sign.png")
    (masks / "sign.json").write_text(json.dumps({"label": "shop sign", "fix_prompt": "a plain wooden board",
                                                 "severity": "minor"}))
    defects = [Defect(label="extra paw", box=(100, 100, 200, 200), fix_prompt="one paw", severity="major"),
               Defect(label="gone", box=(900, 900, 950, 950), fix_prompt="x")]
    jobs = plan_inpaint(image, defects, page_ctx.prompt, masks_dir=masks)
    assert [p.label for p, _ in jobs] == ["extra paw", "shop sign"]  # the box outside the image is skipped
    paw, sign = jobs[0][0], jobs[1][0]
    assert paw.source == "defect" and paw.box == (100, 100, 200, 200) and paw.denoise == 0.7
    assert paw.positive.startswith("one paw, page 1: the bear") and paw.negative == page_ctx.prompt.negative
    assert sign.source == "mask_file" and sign.mask_file == "masks/sign.png" and sign.denoise == 0.45
    assert sign.box[:2] == (0, 0) and sign.positive.startswith("a plain wooden board")
    assert all(m.size == SIZE and m.mode == "L" for _, m in jobs)
    assert mask_png(jobs[0][1]).startswith(b"\x89PNG")


def test_bad_mask_sidecar_is_a_validation_error(tmp_path, page_ctx):
    image = tmp_path / "selected.png"
    Image.new("RGB", SIZE).save(image)
    (tmp_path / "masks").mkdir()
    hand = Image.new("L", SIZE, 0)
    hand.paste(255, (0, 0, 50, 50))
    hand.save(tmp_path / "masks" / "a.png")
    (tmp_path / "masks" / "a.json").write_text('{"fix_promt": "typo"}')
    with pytest.raises(ValidationFailed):
        plan_inpaint(image, [], page_ctx.prompt, masks_dir=tmp_path / "masks")
