"""Is a ComfyUI server ready for artfarm? Reachability, version, devices, templates, model pins."""

from __future__ import annotations

import ipaddress
import socket
import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from artfarm.comfyui.client import ComfyClient
from artfarm.comfyui.errors import NodeProblem
from artfarm.comfyui.model_files import KIND_FOLDER, ModelFileUse, missing_files, server_files
from artfarm.comfyui.families import family_template
from artfarm.comfyui.templates import STAGE_TEMPLATES, TEMPLATE_NAMES, Template, load_template
from artfarm.comfyui.validate import check_graph, combo_options
from artfarm.errors import ServiceError
from artfarm.families import CHECKPOINT_FAMILIES, family_info
from artfarm.models.book import ModelPins

PIN_LOADERS = {"draft_checkpoint": ("CheckpointLoaderSimple", "ckpt_name"),
               "final_checkpoint": ("CheckpointLoaderSimple", "ckpt_name"),
               "upscale_model": ("UpscaleModelLoader", "model_name")}


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceReport(_Report):
    name: str
    type: str
    vram_total: int | None = None
    vram_free: int | None = None


class TemplateCheck(_Report):
    template: str
    ok: bool
    problems: list[NodeProblem] = Field(default_factory=list)


class PinCheck(_Report):
    pin: str
    value: str | None
    ok: bool
    message: str
    available: list[str] = Field(default_factory=list)


class ModelFileCheck(_Report):
    kind: str
    file: str
    pages: list[int]
    ok: bool
    message: str


class ServerReport(_Report):
    url: str
    reachable: bool
    ok: bool = False
    error: str | None = None
    comfyui_version: str | None = None
    python_version: str | None = None
    pytorch_version: str | None = None
    ram_total: int | None = None
    ram_free: int | None = None
    devices: list[DeviceReport] = Field(default_factory=list)
    templates: list[TemplateCheck] = Field(default_factory=list)
    pins: list[PinCheck] = Field(default_factory=list)
    shares_device_with: list[str] = Field(default_factory=list,
                                          description="Other URLs on the same host reporting the same device name and memory.")
    model_files: list[ModelFileCheck] = Field(default_factory=list, description="LoRA and ControlNet files the book's pages load.")


def diagnose(client: ComfyClient, pins: ModelPins | None, templates: list[Template] | None = None,
             files: list[ModelFileUse] | None = None) -> ServerReport:
    report = ServerReport(url=client.base_url, reachable=False)
    try:
        stats = client.system_stats()
        report.reachable = True
        object_info = client.object_info()
    except ServiceError as exc:
        report.error = str(exc)
        return report
    report.comfyui_version = stats.system.comfyui_version
    report.python_version = (stats.system.python_version or "").split(" ")[0] or None
    report.pytorch_version = stats.system.pytorch_version
    report.ram_total, report.ram_free = stats.system.ram_total, stats.system.ram_free
    report.devices = [DeviceReport(name=d.name, type=d.type, vram_total=d.vram_total, vram_free=d.vram_free)
                      for d in stats.devices]
    for template in templates if templates is not None else default_templates(pins):
        unset = {name for name, decl in template.decl.parameters.items() if decl.required}
        problems = check_graph(template.graph, object_info, template, unset=unset)
        report.templates.append(TemplateCheck(template=template.file, ok=not problems, problems=problems))
    if pins is not None:
        for pin, value, (node, input_name) in pinned_files(pins):
            spec = object_info.get(node, {}).get("input", {}).get("required", {}).get(input_name, [])
            available = [str(o) for o in combo_options(spec) or []]
            if value is None:
                report.pins.append(PinCheck(pin=pin, value=None, ok=False, available=available,
                                            message=f"not pinned: set models.{pin} in book.yaml"))
            elif value in available:
                report.pins.append(PinCheck(pin=pin, value=value, ok=True, available=available, message="on the server"))
            else:
                report.pins.append(PinCheck(pin=pin, value=value, ok=False, available=available,
                                            message=f"the server has no {value!r}: put the file in its models folder, "
                                                    f"or pin one it has"))
    for use in files or []:
        ok = not missing_files(object_info, [(use.kind, use.file)])
        pages = ", ".join(map(str, use.pages))
        report.model_files.append(ModelFileCheck(
            kind=use.kind, file=use.file, pages=use.pages, ok=ok,
            message=f"on the server (pages {pages})" if ok else
            f"the server has no {use.kind} {use.file!r}, which page(s) {pages} load: put it in ComfyUI's "
            f"{KIND_FOLDER[use.kind]} folder or name one it has ({', '.join(server_files(object_info, use.kind)) or 'none'})"))
    report.ok = all(t.ok for t in report.templates) and all(p.ok for p in report.pins) and all(m.ok for m in report.model_files)
    return report


def default_templates(pins: ModelPins | None) -> list[Template]:
    """workflows/*.json, and the family's own four graphs when the book's family builds them in code."""
    templates = [load_template(n) for n in TEMPLATE_NAMES]
    if pins is not None and pins.family not in CHECKPOINT_FAMILIES:
        templates += [family_template(pins.family, stage) for stage in STAGE_TEMPLATES]
    return templates


def pinned_files(pins: ModelPins) -> list[tuple[str, str | None, tuple[str, str]]]:
    """(pin as book.yaml names it, file, (loader node, its input)) for every file the family loads: a tier's own
    pin is named with its prefix where the tiers differ."""
    if pins.family in CHECKPOINT_FAMILIES:
        return [(pin, getattr(pins, pin), loader) for pin, loader in PIN_LOADERS.items()]
    clip_loader = ("DualCLIPLoader", "clip_name{}") if family_info(pins.family).text_encoders == 2 else ("CLIPLoader", "clip_name")
    out: dict[tuple[str, str | None], tuple[str, str]] = {}
    tiers = {tier: pins.family_files(tier) for tier in ("draft", "final")}
    for pin in ("diffusion_model", "text_encoders", "vae"):
        same = tiers["draft"][pin] == tiers["final"][pin]
        for tier in ("draft",) if same else ("draft", "final"):
            label = pin if same else f"{tier}_{pin}"
            if pin == "text_encoders":
                for i, name in enumerate(tiers[tier][pin] or [], start=1):
                    out[(f"{label}[{i - 1}]", name)] = (clip_loader[0], clip_loader[1].format(i))
            else:
                out[(label, tiers[tier][pin])] = {"diffusion_model": ("UNETLoader", "unet_name"),
                                                  "vae": ("VAELoader", "vae_name")}[pin]
    out[("upscale_model", pins.upscale_model)] = PIN_LOADERS["upscale_model"]
    return [(pin, value, loader) for (pin, value), loader in out.items()]


def family_warnings(pins: ModelPins) -> list[str]:
    """A checkpoint whose name suggests the other family than models.family (SDXL conditioning on SD1.5 or back)."""
    out = []
    for pin in ("draft_checkpoint", "final_checkpoint") if pins.family in CHECKPOINT_FAMILIES else ():
        name = getattr(pins, pin)
        suggested = _family_of_name(name) if name else None
        if suggested is not None and suggested != pins.family:
            out.append(f"models.{pin} = {name} looks like an {suggested} checkpoint but models.family is {pins.family}: "
                       f"set models.family: {suggested} if it is (the text conditioning differs)")
    return out


def _family_of_name(name: str) -> str | None:
    lowered = name.lower()
    if re.search(r"xl|pony|illustrious", lowered):
        return "sdxl"
    if re.search(r"sd-?1[._-]?5|v1-5|sd15", lowered):
        return "sd15"
    return None


def mark_shared_devices(servers: list[ServerReport]) -> None:
    """Servers on one host whose first device has the same name and total memory share a GPU
    (README: two servers per GPU); each lists the others."""
    def device_key(s: ServerReport) -> tuple[str, str, int | None] | None:
        if not s.devices:
            return None
        return (host_key(urlsplit(s.url).hostname or ""), s.devices[0].name, s.devices[0].vram_total)

    for server in servers:
        key = device_key(server)
        server.shares_device_with = [o.url for o in servers if o is not server and key is not None and device_key(o) == key]


def host_key(hostname: str) -> str:
    """One name for one machine: ``localhost``, ``127.0.0.1`` and ``::1`` are all "loopback"; another
    name is its resolved address (the name itself when it does not resolve)."""
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(hostname, None)})
    except (OSError, UnicodeError):
        return hostname.lower()
    if any(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        return "loopback"
    return addresses[0] if addresses else hostname.lower()


def service_trouble(server: ServerReport) -> bool:
    """The server, not the book, is at fault: unreachable, a template it rejects, a pinned model it lacks."""
    return (not server.reachable or any(not t.ok for t in server.templates)
            or any(not p.ok and p.value for p in server.pins))


def render_servers(servers: list[ServerReport]) -> list[str]:
    lines = []
    for s in servers:
        if not s.reachable:
            lines.append(f"ComfyUI {s.url}: NOT reachable\n  {s.error}")
            continue
        lines.append(f"ComfyUI {s.url}: reachable, version {s.comfyui_version}, python {s.python_version}, "
                     f"torch {s.pytorch_version}, RAM {_gib(s.ram_free)} free of {_gib(s.ram_total)}")
        lines += [f"  device {d.name} ({d.type}): {_gib(d.vram_free)} free of {_gib(d.vram_total)}" for d in s.devices]
        if s.shares_device_with:
            lines.append(f"  shares its device with {', '.join(s.shares_device_with)} (two servers on one GPU: see README)")
        for t in s.templates:
            lines.append(f"  template {t.template}: " + ("ok" if t.ok else f"{len(t.problems)} problem(s)"))
            lines += [f"    - {p.render()}" for p in t.problems]
        for p in s.pins:
            mark = "ok" if p.ok else "PROBLEM"
            lines.append(f"  models.{p.pin} = {p.value or '(unset)'}: {mark}: {p.message}")
            if not p.ok and p.available:
                lines.append(f"    the server has: {', '.join(p.available)}")
        lines += [f"  {m.kind} {m.file}: {'ok' if m.ok else 'PROBLEM'}: {m.message}" for m in s.model_files]
    return lines


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f} GiB"
