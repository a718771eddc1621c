"""`artfarm doctor`'s whole report: the ComfyUI server(s) and, when reviews use it, Ollama."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from artfarm.comfyui.doctor import ServerReport, mark_shared_devices, render_servers, service_trouble
from artfarm.ollama.health import OllamaCheck


class DoctorReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    book: str | None = None
    servers: list[ServerReport]
    vision_reviewer: OllamaCheck | None = None
    warnings: list[str] = []

    @classmethod
    def of(cls, book: str | None, servers: list[ServerReport], vision_reviewer: OllamaCheck | None,
           warnings: list[str] | None = None) -> DoctorReport:
        ok = all(s.ok for s in servers) and (vision_reviewer is None or vision_reviewer.ok)
        mark_shared_devices(servers)
        return cls(ok=ok, book=book, servers=servers, vision_reviewer=vision_reviewer, warnings=warnings or [])

    @property
    def exit_code(self) -> int:
        """0 all well; 3 a service is unreachable or lacks what artfarm needs; 2 the book pins nothing."""
        if self.ok:
            return 0
        ollama_trouble = self.vision_reviewer is not None and not self.vision_reviewer.ok
        return 3 if ollama_trouble or any(service_trouble(s) for s in self.servers) else 2

    def render(self) -> str:
        lines = render_servers(self.servers)
        check = self.vision_reviewer
        if check is not None:
            if check.ok:
                lines.append(f"Ollama {check.url}: reachable, version {check.version}; model {check.model} pulled "
                             f"(digest {(check.digest or '?')[:12]}), accepts images")
            else:
                lines.append(f"Ollama {check.url}: PROBLEM: {check.problem}")
                if check.fix:
                    lines.append(f"  fix: {check.fix}")
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append("doctor: all is well" if self.ok else "doctor: problems found (see above)")
        return "\n".join(lines)
