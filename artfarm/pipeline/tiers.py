"""The sampler settings a stage uses, and where they came from.

sd15 and sdxl take the style pack's ``tiers``. The other families take their documented
defaults (artfarm/families.py) under the pack's ``families.<family>`` section, if it has one:
a pack tuned for SD1.5 at cfg 7 must not drive Flux, which runs at cfg 1. ``source`` says which
applied (``artfarm prompt`` and ``artfarm graph`` print it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from artfarm.families import CHECKPOINT_FAMILIES, family_info
from artfarm.models.stylepack import StylePack


@dataclass(frozen=True)
class TierSettings:
    steps: int
    cfg: float
    sampler: str
    scheduler: str
    width: int
    height: int
    denoise: float
    source: str
    extras: dict[str, Any] = field(default_factory=dict)  # guidance (flux families), shift (qwen families)


def tier_settings(pack: StylePack, family: str, tier: str) -> TierSettings:
    base = getattr(pack.tiers, tier)
    if family in CHECKPOINT_FAMILIES:
        return TierSettings(steps=base.steps, cfg=base.cfg, sampler=base.sampler, scheduler=base.scheduler,
                            width=base.width, height=base.height, denoise=pack.tiers.final.denoise,
                            source=f"style pack {pack.name}: tiers.{tier}")
    info = family_info(family)
    own = pack.families.get(family)
    given = getattr(own, tier).set_values() if own is not None else {}
    values = {**info.defaults(tier), **given}
    source = (f"style pack {pack.name}: families.{family}.{tier} ({', '.join(sorted(given))}), else the {family} defaults"
              if given else f"the {family} defaults (style pack {pack.name} has no families.{family}.{tier})")
    return TierSettings(steps=values["steps"], cfg=values["cfg"], sampler=values["sampler"], scheduler=values["scheduler"],
                        width=values.get("width", info.native), height=values.get("height", info.native),
                        denoise=values.get("denoise", pack.tiers.final.denoise), source=source,
                        extras={k: values[k] for k in info.extras})
