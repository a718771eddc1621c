"""The stage graphs of the families that load separate files (flux, flux_kontext, qwen_image,
qwen_image_edit), built in code from ComfyUI core nodes; sd15 and sdxl use workflows/*.json."""

from __future__ import annotations

from functools import lru_cache

from artfarm.comfyui.templates import Template


def family_graphs(family: str):
    from artfarm.comfyui.families import flux, flux_kontext, qwen_image, qwen_image_edit
    return {"flux": flux.GRAPHS, "flux_kontext": flux_kontext.GRAPHS, "qwen_image": qwen_image.GRAPHS,
            "qwen_image_edit": qwen_image_edit.GRAPHS}.get(family)


@lru_cache(maxsize=None)
def family_template(family: str, stage: str) -> Template:
    from artfarm.comfyui.families.build import build_template
    graphs = family_graphs(family)
    if graphs is None:
        raise KeyError(family)
    return build_template(graphs, stage)  # type: ignore[arg-type]
