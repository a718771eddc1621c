"""Random-weight test models that a real ComfyUI loads: an SD1.5-layout checkpoint, a 2x ESRGAN,
two LoRAs and a ControlNet for that checkpoint.

Runs inside the ComfyUI test venv (needs torch, safetensors, spandrel). The images the
models make are noise; the point is to drive ComfyUI's real loaders, samplers, VAE and
save paths end to end on a CPU in seconds. Nothing is downloaded.

What ComfyUI checks (comfy/model_detection.py, SD15): UNet ``model_channels`` 320 and a
768-wide cross-attention context; block counts come from tensor shapes, so one level with
one res block is enough. CLIP-L has a fixed shape and every key must be present (missing
ones stay uninitialised). TAESD keys inside the checkpoint make ComfyUI build the small VAE.

LoRAs use kohya's key names (``lora_unet_<unet key>``, ``lora_te_text_model_encoder_layers_<i>_<proj>``)
for every attention projection of the tiny UNet and every CLIP layer, so ComfyUI patches
both the model and CLIP. The ControlNet is the UNet's encoder half (same key names, no
prefix) plus ``zero_convs``, ``middle_block_out`` and the ``input_hint_block``; ComfyUI
detects its configuration from those shapes. Its "zero" convolutions are random here, so
it visibly changes what the model makes.

usage: python tiny_models.py OUT_DIR   (writes checkpoints/, upscale_models/, loras/, controlnet/)
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
LORAS = {"tiny-lora-style.safetensors": 1, "tiny-lora-character.safetensors": 2}  # name: seed
CONTROLNET = "tiny-controlnet-sd15.safetensors"
UNET_TRANSFORMERS = ("input_blocks.1.1.", "middle_block.1.", "output_blocks.0.1.", "output_blocks.1.1.")


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


def _res_block(w: Weights, key, n_in, n_out, emb):
    w.norm(key + "in_layers.0", n_in)
    w.conv(key + "in_layers.2", n_out, n_in)
    w.linear(key + "emb_layers.1", n_out, emb)
    w.norm(key + "out_layers.0", n_out)
    w.conv(key + "out_layers.3", n_out, n_out, gain=0.5)
    if n_in != n_out:
        w.conv(key + "skip_connection", n_out, n_in, k=1)


def _transformer(w: Weights, key, c, context):
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


def add_unet_encoder(w: Weights, root, width=320, context=768):
    """Time embedding, the one input level and the middle block (shared by the UNet and its ControlNet)."""
    emb = width * 4
    w.linear(root + "time_embed.0", emb, width)
    w.linear(root + "time_embed.2", emb, emb)
    w.conv(root + "input_blocks.0.0", width, 4)
    _res_block(w, root + "input_blocks.1.0.", width, width, emb)
    _transformer(w, root + "input_blocks.1.1.", width, context)
    _res_block(w, root + "middle_block.0.", width, width, emb)
    _transformer(w, root + "middle_block.1.", width, context)
    _res_block(w, root + "middle_block.2.", width, width, emb)


def add_unet(w: Weights, root="model.diffusion_model.", width=320, context=768):
    """One level, one res block, depth-1 transformers: the smallest UNet ComfyUI detects as SD1.5."""
    add_unet_encoder(w, root, width, context)
    for i in range(2):  # one res block + one skip per level on the way up
        _res_block(w, root + f"output_blocks.{i}.0.", width * 2, width, width * 4)
        _transformer(w, root + f"output_blocks.{i}.1.", width, context)
    w.norm(root + "out.0", width)
    w.conv(root + "out.2", 4, width)


def add_controlnet(w: Weights, width=320, context=768):
    """comfy/cldm/cldm.py ControlNet for the tiny UNet: its encoder, a zero conv per input block and the middle."""
    add_unet_encoder(w, "", width, context)
    hint = [(3, 16), (16, 16), (16, 32), (32, 32), (32, 96), (96, 96), (96, 256), (256, width)]
    for i, (n_in, n_out) in enumerate(hint):
        w.conv(f"input_hint_block.{i * 2}", n_out, n_in)
    for i in range(2):
        w.conv(f"zero_convs.{i}.0", width, width, k=1)
    w.conv("middle_block_out.0", width, width, k=1)


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


def write_lora(path: Path, seed: int, rank: int = 4, width=320, context=768, clip_dim=768, clip_layers=12) -> None:
    """Low-rank updates for every attention projection of the tiny UNet and every CLIP layer."""
    w = Weights(seed)

    def pair(key, n_out, n_in):
        w.linear(key + ".lora_down", rank, n_in, bias=False)
        w.linear(key + ".lora_up", n_out, rank, bias=False, std=0.5 / math.sqrt(rank))
        w.tensors[key + ".alpha"] = torch.tensor(float(rank), dtype=w.dtype)

    for block in UNET_TRANSFORMERS:
        for attn, kv in (("attn1", width), ("attn2", context)):
            base = "lora_unet_" + (block + "transformer_blocks.0." + attn).replace(".", "_")
            pair(base + "_to_q", width, width)
            pair(base + "_to_k", width, kv)
            pair(base + "_to_v", width, kv)
            pair(base + "_to_out_0", width, width)
    for i in range(clip_layers):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            pair(f"lora_te_text_model_encoder_layers_{i}_self_attn_{proj}", clip_dim, clip_dim)
    save_file(w.tensors, str(path), metadata={"note": "random LoRA for artfarm tests", "seed": str(seed)})


def write_controlnet(path: Path, seed: int = 3) -> None:
    w = Weights(seed)
    add_controlnet(w)
    save_file(w.tensors, str(path), metadata={"note": "random ControlNet for artfarm tests", "seed": str(seed)})


def write_upscaler(path: Path, filters: int = 16, blocks: int = 1, scale: int = 2) -> None:
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    model = ESRGAN(in_nc=3, out_nc=3, num_filters=filters, num_blocks=blocks, scale=scale)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))


def write_all(out_dir: Path) -> None:
    ckpts, upscalers = out_dir / "checkpoints", out_dir / "upscale_models"
    loras, controlnets = out_dir / "loras", out_dir / "controlnet"
    for folder in (ckpts, upscalers, loras, controlnets):
        folder.mkdir(parents=True, exist_ok=True)
    writers = [(ckpts / CHECKPOINT, write_checkpoint), (upscalers / UPSCALER, write_upscaler),
               (controlnets / CONTROLNET, write_controlnet)]
    writers += [(loras / name, lambda p, seed=seed: write_lora(p, seed)) for name, seed in LORAS.items()]
    for path, write in writers:
        tmp = path.with_suffix(".tmp")
        write(tmp)
        tmp.replace(path)
    # A checkpoint that is listed by the server but fails to load at run time (header too large).
    (ckpts / BROKEN_CHECKPOINT).write_bytes(b"\xff" * 64)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write_all(Path(sys.argv[1]))
