"""Random-weight test models that a real ComfyUI loads: an SD1.5-layout checkpoint and a 2x ESRGAN.

Runs inside the ComfyUI test venv (needs torch, safetensors, spandrel). The images the
models make are noise; the point is to drive ComfyUI's real loaders, samplers, VAE and
save paths end to end on a CPU in seconds. Nothing is downloaded.

What ComfyUI checks (comfy/model_detection.py, SD15): UNet ``model_channels`` 320 and a
768-wide cross-attention context; block counts come from tensor shapes, so one level with
one res block is enough. CLIP-L has a fixed shape and every key must be present (missing
ones stay uninitialised). TAESD keys inside the checkpoint make ComfyUI build the small VAE.

usage: python tiny_models.py OUT_DIR   (writes checkpoints/ and upscale_models/)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

CHECKPOINT = "tiny-sd15-taesd.safetensors"
BROKEN_CHECKPOINT = "tiny-broken.safetensors"
UPSCALER = "tiny-esrgan-x2.safetensors"


class Weights:
    """Collects tensors under SD1.x key names; N(0, 1/fan_in) weights, zero biases, unit norms."""

    def __init__(self, seed: int, dtype=torch.float16):
        self.tensors: dict[str, torch.Tensor] = {}
        self.gen = torch.Generator().manual_seed(seed)
        self.dtype = dtype

    def _normal(self, shape, std):
        return (torch.randn(shape, generator=self.gen) * std).to(self.dtype)

    def _zeros(self, n):
        return torch.zeros(n, dtype=self.dtype)

    def linear(self, key, n_out, n_in, bias=True, std=None):
        self.tensors[f"{key}.weight"] = self._normal((n_out, n_in), std or 1 / math.sqrt(n_in))
        if bias:
            self.tensors[f"{key}.bias"] = self._zeros(n_out)

    def conv(self, key, n_out, n_in, k=3, bias=True, gain=1.0):
        self.tensors[f"{key}.weight"] = self._normal((n_out, n_in, k, k), gain / math.sqrt(n_in * k * k))
        if bias:
            self.tensors[f"{key}.bias"] = self._zeros(n_out)

    def norm(self, key, n):
        self.tensors[f"{key}.weight"] = torch.ones(n, dtype=self.dtype)
        self.tensors[f"{key}.bias"] = self._zeros(n)


def add_unet(w: Weights, root="model.diffusion_model.", width=320, context=768):
    """One level, one res block, depth-1 transformers: the smallest UNet ComfyUI detects as SD1.5."""
    emb = width * 4

    def res_block(key, n_in, n_out):
        w.norm(key + "in_layers.0", n_in)
        w.conv(key + "in_layers.2", n_out, n_in)
        w.linear(key + "emb_layers.1", n_out, emb)
        w.norm(key + "out_layers.0", n_out)
        w.conv(key + "out_layers.3", n_out, n_out, gain=0.5)
        if n_in != n_out:
            w.conv(key + "skip_connection", n_out, n_in, k=1)

    def transformer(key, c):
        w.norm(key + "norm", c)
        w.conv(key + "proj_in", c, c, k=1)
        block = key + "transformer_blocks.0."
        for attn, kv in (("attn1", c), ("attn2", context)):
            w.linear(block + attn + ".to_q", c, c, bias=False)
            w.linear(block + attn + ".to_k", c, kv, bias=False)
            w.linear(block + attn + ".to_v", c, kv, bias=False)
            w.linear(block + attn + ".to_out.0", c, c)
        w.linear(block + "ff.net.0.proj", c * 8, c)
        w.linear(block + "ff.net.2", c, c * 4)
        for n in ("norm1", "norm2", "norm3"):
            w.norm(block + n, c)
        w.conv(key + "proj_out", c, c, k=1, gain=0.5)

    w.linear(root + "time_embed.0", emb, width)
    w.linear(root + "time_embed.2", emb, emb)
    w.conv(root + "input_blocks.0.0", width, 4)
    res_block(root + "input_blocks.1.0.", width, width)
    transformer(root + "input_blocks.1.1.", width)
    res_block(root + "middle_block.0.", width, width)
    transformer(root + "middle_block.1.", width)
    res_block(root + "middle_block.2.", width, width)
    for i in range(2):  # one res block + one skip per level on the way up
        res_block(root + f"output_blocks.{i}.0.", width * 2, width)
        transformer(root + f"output_blocks.{i}.1.", width)
    w.norm(root + "out.0", width)
    w.conv(root + "out.2", 4, width)


def add_clip_l(w: Weights, root="cond_stage_model.transformer.text_model.", dim=768, layers=12, inner=3072):
    w.tensors[root + "embeddings.token_embedding.weight"] = w._normal((49408, dim), 0.02)
    w.tensors[root + "embeddings.position_embedding.weight"] = w._normal((77, dim), 0.01)
    for i in range(layers):
        layer = f"{root}encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w.linear(layer + "self_attn." + proj, dim, dim)
        w.norm(layer + "layer_norm1", dim)
        w.norm(layer + "layer_norm2", dim)
        w.linear(layer + "mlp.fc1", inner, dim)
        w.linear(layer + "mlp.fc2", dim, inner, std=0.5 / math.sqrt(inner))
    w.norm(root + "final_layer_norm", dim)


def add_taesd(w: Weights, root="first_stage_model.", latent=4):
    """TAESD encoder and decoder (comfy/taesd/taesd.py layout), 64 channels throughout."""

    def block(key):
        for i in (0, 2, 4):
            w.conv(f"{key}conv.{i}", 64, 64, gain=0.7)

    enc = root + "taesd_encoder."
    w.conv(enc + "0", 64, 3)
    block(enc + "1.")
    index = 2
    for _ in range(3):
        w.conv(f"{enc}{index}", 64, 64, bias=False)
        index += 1
        for _ in range(3):
            block(f"{enc}{index}.")
            index += 1
    w.conv(f"{enc}{index}", latent, 64)
    dec = root + "taesd_decoder."
    w.conv(dec + "1", 64, latent)
    index = 3
    for _ in range(3):
        for _ in range(3):
            block(f"{dec}{index}.")
            index += 1
        index += 1  # the Upsample layer has no weights
        w.conv(f"{dec}{index}", 64, 64, bias=False)
        index += 1
    block(f"{dec}{index}.")
    w.conv(f"{dec}{index + 1}", 3, 64)
    w.tensors[root + "vae_scale"] = torch.tensor(1.0, dtype=w.dtype)
    w.tensors[root + "vae_shift"] = torch.tensor(0.0, dtype=w.dtype)


def write_checkpoint(path: Path, seed: int = 0) -> None:
    w = Weights(seed)
    add_unet(w)
    add_clip_l(w)
    add_taesd(w)
    save_file(w.tensors, str(path), metadata={"note": "random weights for artfarm tests", "seed": str(seed)})


def write_upscaler(path: Path, filters: int = 16, blocks: int = 1, scale: int = 2) -> None:
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    model = ESRGAN(in_nc=3, out_nc=3, num_filters=filters, num_blocks=blocks, scale=scale)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))


def write_all(out_dir: Path) -> None:
    ckpts, upscalers = out_dir / "checkpoints", out_dir / "upscale_models"
    ckpts.mkdir(parents=True, exist_ok=True)
    upscalers.mkdir(parents=True, exist_ok=True)
    for path, write in ((ckpts / CHECKPOINT, write_checkpoint), (upscalers / UPSCALER, write_upscaler)):
        tmp = path.with_suffix(".tmp")
        write(tmp)
        tmp.replace(path)
    # A checkpoint that is listed by the server but fails to load at run time (header too large).
    (ckpts / BROKEN_CHECKPOINT).write_bytes(b"\xff" * 64)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write_all(Path(sys.argv[1]))
