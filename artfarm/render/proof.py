"""The proof renderer: deterministic storyboard art drawn with Pillow, no GPU, clearly marked PROOF.

It exists so anyone can run a whole book on any machine and proof the layout and the
pipeline. A draft shows the scene caption, the characters by name, the camera (horizon
height and figure size follow angle and shot) and the time of day (sky colour, sun or
moon), in the style pack's palette; each burst candidate (seed, seed+1, ...) is a
different composition. Refine, inpaint and upscale are real image operations: refine
smooths and sharpens at half the print size (so the 2x upscale reaches print size),
inpaint repaints the masked area, upscale doubles the size with Lanczos.
"""

from __future__ import annotations

import colorsys
import io
import random
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from artfarm.colours import hex_to_rgb
from artfarm.book.loader import LoadedBook
from artfarm.fsio import atomic_write_bytes
from artfarm.images import load_image
from artfarm.errors import BadInputError, Interrupted, RunError
from artfarm.models.renderspec import RenderSpec
from artfarm.render.modelparams import ModelParams
from artfarm.render.base import ModelUse, ProgressEvent, ProgressFn, RenderedImage, RenderRequest, RenderResult, Stage

PROOF_VERSION = 2  # bump when the drawing changes: it is part of every proof cache key
PNG_LEVEL = 1  # fast to write; proofs are big and throwaway

TIME_SKY = {  # (top, bottom) sky colours
    "dawn": ((250, 196, 188), (255, 226, 190)),
    "morning": ((150, 200, 240), (225, 240, 250)),
    "midday": ((110, 180, 245), (205, 232, 255)),
    "afternoon": ((140, 190, 230), (245, 230, 200)),
    "golden-hour": ((240, 170, 90), (255, 215, 140)),
    "dusk": ((90, 70, 130), (220, 120, 110)),
    "night": ((15, 20, 50), (45, 55, 95)),
}
SUN_HEIGHT = {"dawn": 0.85, "morning": 0.45, "midday": 0.12, "afternoon": 0.3, "golden-hour": 0.7, "dusk": 0.9, "night": 0.2}
HORIZON = {"eye-level": 0.6, "low": 0.78, "high": 0.38, "birds-eye": 0.12, "worms-eye": 0.9,
           "over-the-shoulder": 0.62, "dutch": 0.58}
FIGURE_HEIGHT = {"establishing": 0.14, "wide": 0.24, "full": 0.45, "medium": 0.6, "medium-close": 0.75,
                 "close-up": 0.95, "extreme-close-up": 1.3}
COMPOSITIONS = ["left third", "right third", "centred", "spread out", "diagonal"]


def create(settings: Any, book: LoadedBook) -> "ProofRenderer":
    return ProofRenderer(book)


class ProofRenderer:
    """Renderer seam implementation; thread-safe (the only shared state is the cancel flag)."""

    name = "proof"

    def __init__(self, book: LoadedBook):
        self.book = book
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    def _stop_if_cancelled(self, request: RenderRequest) -> None:
        if self._cancelled.is_set():
            raise Interrupted(f"page {request.page} {request.stage} stopped on request", where="proof renderer",
                              fix="run the same command again to continue; finished stages are kept")

    def identity(self, stage: Stage, family: str = "sd15") -> dict[str, Any]:
        """The family reaches the proof art through the request's params (and so the key), not through this."""
        return {"name": self.name, "version": PROOF_VERSION, "stage": stage}

    def close(self) -> None:
        pass

    def render(self, request: RenderRequest, progress: ProgressFn | None = None) -> RenderResult:
        spec = self.book.specs.get(request.page)
        if spec is None:
            raise BadInputError(f"page {request.page} has no valid RenderSpec", where=f"page {request.page}",
                                fix=f"run `artfarm validate {self.book.id}`")
        params = request.params
        model = ModelParams.from_params(params)
        label = proof_label(model)
        images: list[RenderedImage] = []
        if request.stage == "draft":
            count = int(params.get("batch", 1))
            for index in range(count):
                self._stop_if_cancelled(request)
                seed = int(params["seed"]) + index
                art = draw_storyboard(spec, self._palette(spec), self._names(), (int(params["width"]), int(params["height"])),
                                      seed, index)
                if label:
                    art = stamp(art, f"PROOF - {label}")
                images.append(self._save(art, request, index, seed))
                _tell(progress, request, index + 1, count)
        else:
            self._stop_if_cancelled(request)
            source = _open(params, "image", request)
            if request.stage == "refine":
                art = refine(source, (int(params["width"]), int(params["height"])), float(params.get("denoise", 0.35)))
            elif request.stage == "inpaint":
                art = inpaint(source, _open(params, "mask", request).convert("L"), self._palette(spec), int(params["seed"]))
            else:
                art = upscale(source)
            art = stamp(art, " - ".join(["PROOF", request.stage, f"seed {params.get('seed')}", *([label] if label else [])]))
            images.append(self._save(art, request, 0, params.get("seed")))
            _tell(progress, request, 1, 1)
        return RenderResult(images=images, workflow=None, server="proof (in-process)", prompt_id=None,
                            models=[ModelUse(name=f"proof-v{PROOF_VERSION}"), *(ModelUse(name=f) for f in model.files())])

    def _palette(self, spec: RenderSpec) -> list[tuple[int, int, int]]:
        pack = self.book.style_packs.get(spec.style_pack)
        colours = list(pack.pack.palette.values()) if pack else []
        return [hex_to_rgb(c) for c in colours] or [(200, 120, 60), (80, 120, 90), (160, 190, 220), (240, 230, 210)]

    def _names(self) -> dict[str, str]:
        return {c.id: c.name for c in self.book.characters.characters}

    def _save(self, art: Image.Image, request: RenderRequest, index: int, seed: int | None) -> RenderedImage:
        path = Path(request.out_dir) / f"{request.filename_stem}_{index:02d}.png"
        buf = io.BytesIO()
        art.convert("RGB").save(buf, format="PNG", compress_level=PNG_LEVEL)
        atomic_write_bytes(path, buf.getvalue())
        return RenderedImage(path=path, seed=seed, batch_index=index)


def draw_storyboard(spec: RenderSpec, palette: list[tuple[int, int, int]], names: dict[str, str],
                    size: tuple[int, int], seed: int, index: int) -> Image.Image:
    """One storyboard frame. Everything drawn follows from the spec and the seed."""
    rng = random.Random(seed)
    width, height = size
    time_of_day, angle, shot = spec.environment.time, spec.camera.angle, spec.camera.shot
    top, bottom = (_toward(c, _nearest(c, palette), 0.35) for c in TIME_SKY[time_of_day])
    art = Image.new("RGB", size)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    art = Image.fromarray((np.array(top) * (1 - ramp) + np.array(bottom) * ramp).repeat(width, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(art)

    horizon = int(height * (HORIZON[angle] + rng.uniform(-0.05, 0.05)))
    ground = _darker(_nearest((90, 130, 80), palette), 0.85 if time_of_day != "night" else 0.4)
    tilt = int(height * 0.12) * (1 if rng.random() < 0.5 else -1) if angle == "dutch" else 0
    phase, waves = rng.uniform(0, 6.3), rng.choice([1.5, 2.5, 3.5])
    hill = [(x, horizon + tilt * (x / width - 0.5) + int(height * 0.03 * np.sin(x / width * 6.3 * waves / 2 + phase)))
            for x in range(0, width + 8, 8)]
    draw.polygon([(0, height), *hill, (width, height)], fill=ground)

    sun_x = int(width * rng.uniform(0.15, 0.85))
    sun_y = int(height * SUN_HEIGHT[time_of_day] * max(0.2, HORIZON[angle]))
    radius = max(6, width // 14)
    if time_of_day == "night":
        draw.ellipse([sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius], fill=(235, 235, 210))
        for _ in range(30):
            x, y = rng.randrange(width), rng.randrange(max(1, horizon))
            draw.point((x, y), fill=(255, 255, 230))
    else:
        draw.ellipse([sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius], fill=_nearest((250, 210, 90), palette))

    composition = COMPOSITIONS[(seed + index) % len(COMPOSITIONS)]
    cast = spec.characters or []
    fig_h = int(height * FIGURE_HEIGHT[shot])
    font = _font(max(10, height // 28))
    taken: list[tuple[float, float, float, float]] = []
    for n, who in enumerate(cast):
        x = _figure_x(composition, n, len(cast), width, rng)
        feet = min(height - 4, horizon + int(height * (0.12 + 0.08 * n if composition == "diagonal" else 0.15)))
        colour = palette[(seed + n) % len(palette)]
        _figure(draw, x, feet, fig_h, colour)
        label = names.get(who.id, who.id)
        detail = ", ".join(t for t in (who.pose, who.emotion) if t)
        taken.append(_label(draw, (x, max(4, feet - fig_h - font.size * 2)), label + (f" ({detail})" if detail else ""),
                            font, taken))

    if angle == "over-the-shoulder":
        draw.ellipse([-width // 5, height // 3, width // 3, height + height // 3], fill=_darker(palette[0], 0.5))

    art = _texture(art, seed)
    draw = ImageDraw.Draw(art)
    small = _font(max(9, height // 36))
    caption = textwrap.fill(spec.scene, width=max(20, width // max(1, small.size // 2 + 1)))
    box_top = height - (caption.count("\n") + 3) * (small.size + 4) - 8
    draw.rectangle([0, box_top, width, height], fill=(250, 248, 240))
    draw.multiline_text((8, box_top + 6), caption, fill=(40, 40, 40), font=small, spacing=4)
    camera = f"{shot} shot, {angle}, {spec.camera.lens}, {time_of_day}, {composition}"
    draw.text((8, height - small.size - 6), f"PROOF p{spec.page} #{index} seed {seed} | {camera}", fill=(120, 40, 40), font=small)
    return _watermark(art)


def refine(image: Image.Image, target: tuple[int, int], denoise: float) -> Image.Image:
    """Scale (keeping the aspect) to cover the working size the engine chose, smooth in proportion to denoise, sharpen."""
    scale = max(target[0] / image.width, target[1] / image.height)
    size = (max(target[0], round(image.width * scale)), max(target[1], round(image.height * scale)))
    art = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    smooth = art.filter(ImageFilter.GaussianBlur(radius=1 + 3 * denoise))
    art = Image.blend(art, smooth, min(1.0, denoise))
    return art.filter(ImageFilter.UnsharpMask(radius=2, percent=80, threshold=2))


def inpaint(image: Image.Image, mask: Image.Image, palette: list[tuple[int, int, int]], seed: int) -> Image.Image:
    """Repaint under the mask: a blurred, palette-tinted version of what was there."""
    art = image.convert("RGB")
    mask = mask.resize(art.size, Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(radius=4))
    tint = Image.new("RGB", art.size, palette[seed % len(palette)])
    patch = Image.blend(art.filter(ImageFilter.GaussianBlur(radius=max(4, art.width // 60))), tint, 0.3)
    return Image.composite(patch, art, mask)


def upscale(image: Image.Image) -> Image.Image:
    art = image.convert("RGB")
    art = art.resize((art.width * 2, art.height * 2), Image.Resampling.LANCZOS)
    return art.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=3))


def proof_label(model: ModelParams) -> str:
    """What a real render would load that a proof cannot show: named on the art (and in stage.json's models)."""
    parts = [f"lora {lora.file} {lora.strength:g}/{lora.strength_clip:g}" for lora in model.loras]
    if model.control is not None:
        parts.append(f"controlnet {model.control.model} ({model.control.preprocessor} {model.control.strength:g})")
    if model.family != "sd15":
        parts.append(model.family)
    return ", ".join(parts)


def stamp(image: Image.Image, text: str) -> Image.Image:
    art = image.copy()
    font = _font(max(10, art.height // 48))
    draw = ImageDraw.Draw(art)
    x, y = art.width - draw.textlength(text, font=font) - 10, 6
    draw.rectangle([x - 4, y - 2, art.width - 6, y + font.size + 4], fill=(250, 248, 240))
    draw.text((x, y), text, fill=(150, 30, 30), font=font)
    return art


def _tell(progress: ProgressFn | None, request: RenderRequest, step: int, total: int) -> None:
    if progress is not None:
        progress(ProgressEvent(page=request.page, stage=request.stage, step=step, total=total))


def _open(params: dict[str, Any], name: str, request: RenderRequest) -> Image.Image:
    path = params.get(name)
    if path is None or not Path(path).is_file():
        raise RunError(f"{request.stage} needs the '{name}' image, got {path!r}", where=f"page {request.page} {request.stage}",
                       fix="run the earlier stages first (artfarm render-page)")
    return load_image(path, what=f"{request.stage} {name}", mode="RGB" if name == "image" else None)


def _figure_x(composition: str, n: int, count: int, width: int, rng: random.Random) -> int:
    jitter = rng.uniform(-0.04, 0.04)
    if composition == "left third":
        base = 0.3 + 0.12 * n
    elif composition == "right third":
        base = 0.7 - 0.12 * n
    elif composition == "centred":
        base = 0.5 + 0.14 * (n - (count - 1) / 2)
    elif composition == "spread out":
        base = (n + 1) / (count + 1)
    else:
        base = 0.2 + 0.6 * (n / max(1, count - 1)) if count > 1 else 0.35
    return int(width * min(0.92, max(0.08, base + jitter)))


def _figure(draw: ImageDraw.ImageDraw, x: int, feet: int, height: int, colour: tuple[int, int, int]) -> None:
    body_w = max(4, height // 3)
    head = max(3, height // 5)
    outline = _darker(colour, 0.45)
    draw.ellipse([x - body_w // 2, feet - int(height * 0.7), x + body_w // 2, feet], fill=colour, outline=outline, width=2)
    draw.ellipse([x - head, feet - height, x + head, feet - height + 2 * head], fill=_toward(colour, (255, 240, 220), 0.3),
                 outline=outline, width=2)


def _label(draw: ImageDraw.ImageDraw, at: tuple[int, int], text: str, font: ImageFont.FreeTypeFont,
           taken: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """A name tag centred over its figure, kept inside the image and moved down past tags already drawn."""
    limit = draw.im.size[0] - 8
    while len(text) > 4 and draw.textlength(text, font=font) > limit:
        text = text[:-2].rstrip(" ,(") + "…"
    width = draw.textlength(text, font=font)
    x = int(min(max(4, at[0] - width / 2), limit + 4 - width))
    y = at[1]
    box = (x - 4, y - 2, x + width + 4, y + font.size + 4)
    while any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
        y = max(t[3] for t in taken if box[0] < t[2] and t[0] < box[2]) + 2
        box = (x - 4, y - 2, x + width + 4, y + font.size + 4)
    draw.rounded_rectangle(box, radius=4, fill=(255, 255, 255))
    draw.text((x, y), text, fill=(30, 30, 30), font=font)
    return box


def _texture(art: Image.Image, seed: int) -> Image.Image:
    """Soft watercolour-like blotches: low-resolution noise, enlarged smoothly."""
    rng = np.random.default_rng(seed)
    small = rng.normal(128, 40, (max(2, art.height // 32), max(2, art.width // 32))).clip(0, 255).astype(np.uint8)
    blotches = Image.fromarray(small).resize(art.size, Image.Resampling.BICUBIC)
    blotches = blotches.filter(ImageFilter.GaussianBlur(radius=max(2, art.width // 64)))
    noise = (np.asarray(blotches, dtype=np.float32) - 128) * 0.25
    out = np.asarray(art, dtype=np.float32) + noise[:, :, None]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _watermark(art: Image.Image) -> Image.Image:
    layer = Image.new("RGBA", art.size, (0, 0, 0, 0))
    font = _font(max(12, art.width // 6))
    draw = ImageDraw.Draw(layer)
    width = draw.textlength("PROOF", font=font)
    draw.text(((art.width - width) / 2, art.height * 0.05), "PROOF", fill=(180, 30, 30, 70), font=font)
    return Image.alpha_composite(art.convert("RGBA"), layer).convert("RGB")


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]




def _nearest(colour: tuple[int, ...], palette: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return min(palette, key=lambda p: sum((a - b) ** 2 for a, b in zip(colour, p)))


def _toward(a: tuple[int, ...], b: tuple[int, ...], amount: float) -> tuple[int, int, int]:
    return tuple(int(x + (y - x) * amount) for x, y in zip(a, b))  # type: ignore[return-value]


def _darker(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    h, l, s = colorsys.rgb_to_hls(*(c / 255 for c in colour))
    r, g, b = colorsys.hls_to_rgb(h, l * factor, s)
    return int(r * 255), int(g * 255), int(b * 255)
