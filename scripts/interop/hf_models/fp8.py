"""Block-scaled FP8 weights as the DeepSeek-V3/R1, Kimi K2, GLM-4.5-FP8, MiniMax-M2 and Qwen3-FP8 releases store them:
a weight "X.weight" as F8_E4M3 (float8_e4m3fn) codes beside "X.weight_scale_inv" [ceil(rows/br), ceil(cols/bc)], with
[br, bc] = config.json's quantization_config.weight_block_size.

Quantization, block by block (partial edge blocks included, as DeepSeek-V3's weight_dequant kernel reads them):
scale_inv = amax(|block|) / 448 in float32 (the per-block scale DeepSeek's act_quant computes, inference/kernel.py @
9b4e9788e4a3a731f7567338ed15d3ec549ce03b, and transformers' Fp8Quantize stores as 1 / (448 / amax),
src/transformers/integrations/finegrained_fp8.py @ 0095b97653938e60bedf484ded6499f486611582), then each element
x / scale_inv (float32) rounded to the nearest e4m3fn value, ties to the even code, saturating at ±448 (transformers
clamps to ±448 before the cast). torch 1.13 has no float8 dtype, so the rounding is done here on the grid of the 126
positive finite values. Dequantized value = e4m3(code) · scale_inv[i // br, j // bc] in float32: the weights the
reference forward multiplies by. verify.py decodes the codes independently (quantization_reference.e4m3fn_value).
"""

import math
from dataclasses import dataclass
from typing import Callable

import torch

from make_hf_fixtures import E4M3Codes

E4M3_MAX = 448.0
SIGN = 0x80


def _positive_grid():
    """The values of codes 0x00..0x7E (0x7F is NaN): subnormals m/8 · 2^-6, normals (1 + m/8) · 2^(e-7)."""
    values = []
    for code in range(0x7F):
        e, m = code >> 3, code & 0x7
        values.append((m / 8.0) * 2.0 ** -6 if e == 0 else (1.0 + m / 8.0) * 2.0 ** (e - 7))
    return torch.tensor(values, dtype=torch.float64)


GRID = _positive_grid()  # ascending in the code


def encode(values):
    """float32 tensor -> uint8 e4m3fn codes: round to nearest, ties to the even code, saturate at ±448, keep the sign
    (also of a value that rounds to zero)."""
    magnitude = values.double().abs().clamp(max=E4M3_MAX).reshape(-1)
    above = torch.searchsorted(GRID, magnitude).clamp(max=len(GRID) - 1)
    below = (above - 1).clamp(min=0)
    to_below, to_above = magnitude - GRID[below], GRID[above] - magnitude
    pick_below = (to_below < to_above) | ((to_below == to_above) & (below % 2 == 0))
    codes = torch.where(pick_below, below, above)
    codes = codes + SIGN * torch.signbit(values.reshape(-1)).long()
    return codes.to(torch.uint8).reshape(values.shape)


def decode(codes):
    """uint8 e4m3fn codes (never NaN here) -> float32 values."""
    c = codes.long()
    magnitude = GRID[c & 0x7F]
    return torch.where(c & SIGN != 0, -magnitude, magnitude).float()


def blocks(rows, cols, block):
    """(row slice, column slice, block row, block column) of every block, partial edge blocks included."""
    br, bc = block
    for i in range(math.ceil(rows / br)):
        for j in range(math.ceil(cols / bc)):
            yield slice(i * br, min((i + 1) * br, rows)), slice(j * bc, min((j + 1) * bc, cols)), i, j


def quantize(weight, block, scale_dtype=torch.float32):
    """A float32 weight [rows, cols] -> (E4M3Codes, scale_inv [ceil(rows/br), ceil(cols/bc)] in scale_dtype, the
    dequantized float32 weight). The scale is rounded to scale_dtype before the division, so the stored pair is
    exactly what dequantizes to the returned weight."""
    rows, cols = weight.shape
    codes = torch.zeros(rows, cols, dtype=torch.uint8)
    scale_inv = torch.zeros(math.ceil(rows / block[0]), math.ceil(cols / block[1]), dtype=scale_dtype)
    dequantized = torch.zeros(rows, cols, dtype=torch.float32)
    for r, c, i, j in blocks(rows, cols, block):
        part = weight[r, c].float()
        scale = (part.abs().max() / E4M3_MAX).to(scale_dtype).float()
        if float(scale) == 0.0:
            raise ValueError("an all-zero block has no scale")
        codes[r, c] = encode(part / scale)
        scale_inv[i, j] = scale.to(scale_dtype)
        dequantized[r, c] = decode(codes[r, c]) * scale
    return E4M3Codes(codes), scale_inv, dequantized


def quantization_config(block):
    """config.json's quantization_config of these releases (DeepSeek-V3's config.json: activation_scheme dynamic,
    fmt e4m3, quant_method fp8, weight_block_size)."""
    return {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": list(block)}


@dataclass(frozen=True)
class Fp8Storage:
    """How a fixture stores its weights quantized: the block [br, bc], the dtype of weight_scale_inv (DeepSeek-V3:
    F32), and which "….weight" keys are quantized (the releases quantize the nn.Linear projections, not the router
    gate, the norms or the balance bias)."""

    block: tuple
    scale_dtype: torch.dtype
    quantizes: Callable[[str], bool]


def projections_only(key):
    """The projections of experts, shared experts and dense MLPs (gate_proj, up_proj, down_proj): what DeepSeek-V3's
    index lists with a weight_scale_inv; the router's gate.weight, the balance bias and the norms stay unquantized."""
    return key.endswith("_proj.weight")
