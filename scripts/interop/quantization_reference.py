#!/usr/bin/env python3
"""Reference dequantization fixtures for MoeLayers.Interop's Quantization/ (FP8 block scaling, MXFP4, float8 codes).

Writes, deterministically, under tests/fixtures/quantization/ (committed; the C# tests compare bit for bit):

  float8_codes.safetensors  codes U8 [256] (0..255) and their values as F32 [256]: e4m3 (float8_e4m3fn),
                            e5m2 (float8_e5m2) and e8m0 (float8_e8m0fnu), NaN where the format has NaN
  fp8_block.safetensors     weight F8_E4M3 [150, 200] with weight_scale_inv F32 [2, 2] (128 x 128 blocks, partial
                            edge blocks in both directions) and dequantized F32 [150, 200];
                            experts.weight F8_E4M3 [2, 70, 90] with experts.weight_scale_inv BF16 [2, 3, 2]
                            (32 x 64 blocks) and experts.dequantized F32 [2, 70, 90]
  mxfp4.safetensors         blocks U8 [2, 6, 4, 16], scales U8 [2, 6, 4] (including the extreme codes 0, 1 and 254),
                            dequantized F32 [2, 6, 128] and dequantized_bf16 BF16 [2, 6, 128]

Usage (Debian: `apt-get install python3-torch`; torch 1.13 has no float8 dtype, so codes are decoded from their bits
here, by a formula written independently of the C# tables):
  /usr/bin/python3 scripts/interop/quantization_reference.py [--out tests/fixtures/quantization]

Sources transcribed:
  FP8 block: github.com/deepseek-ai/DeepSeek-V3 inference/kernel.py @ 9b4e9788e4a3a731f7567338ed15d3ec549ce03b
    (weight_dequant_kernel: per 128 x 128 block, y = x.to(float32) * s[pid_m * cdiv(N, BLOCK) + pid_n], edge blocks
    masked), and huggingface/transformers src/transformers/integrations/finegrained_fp8.py
    @ 0095b97653938e60bedf484ded6499f486611582 (Fp8Dequantize: leading dims such as experts, scales cast to float32,
    block size from quantization_config.weight_block_size). Computed here block by block, as the kernel does.
  MXFP4: huggingface/transformers src/transformers/integrations/mxfp4.py @ 0189b1d09a03a87ec4f59831acb93cc1832d14e7
    (FP4_VALUES, convert_moe_packed_tensors: lut[blk & 0x0F] to the even, lut[blk >> 4] to the odd positions,
    torch.ldexp(sub, scales - 127), out in the requested dtype), run literally below without its final
    transpose(1, 2), which transformers applies for gpt-oss's expert layout.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch

# ------------------------------------------------------------------------------------------------------------------
# safetensors writer (after scripts/interop/make_hf_fixtures.py's): 8-byte little-endian header length, compact JSON
# header padded with spaces to a multiple of 8, tensors back to back sorted by element size (largest first), then name.
# F8 tensors are given as uint8 codes plus the dtype name to store them under.
# ------------------------------------------------------------------------------------------------------------------

NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.uint8: "U8"}


def _raw_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors, metadata=None):
    """tensors: name -> tensor, or name -> (uint8 codes, "F8_E4M3") for float8 data."""
    assert sys.byteorder == "little"
    items = []
    for key, value in tensors.items():
        t, dtype = value if isinstance(value, tuple) else (value, NAMES[value.dtype])
        items.append((key, t, dtype))
    items.sort(key=lambda it: (-it[1].element_size(), it[0]))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for key, t, dtype in items:
        data = _raw_bytes(t)
        header[key] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------------------------
# float8 values from their bits (sign, exponent field, mantissa field), in exact Python floats.
# ------------------------------------------------------------------------------------------------------------------

def e4m3fn_value(code):
    sign = -1.0 if code & 0x80 else 1.0
    e, m = (code >> 3) & 0xF, code & 0x7
    if e == 15 and m == 7:
        return math.nan                                  # e4m3fn: no infinities, S.1111.111 is NaN
    if e == 0:
        return sign * (m / 8.0) * 2.0 ** (1 - 7)         # subnormal
    return sign * (1.0 + m / 8.0) * 2.0 ** (e - 7)


def e5m2_value(code):
    sign = -1.0 if code & 0x80 else 1.0
    e, m = (code >> 2) & 0x1F, code & 0x3
    if e == 31:
        return sign * math.inf if m == 0 else math.nan
    if e == 0:
        return sign * (m / 4.0) * 2.0 ** (1 - 15)
    return sign * (1.0 + m / 4.0) * 2.0 ** (e - 15)


def e8m0_value(code):
    return math.nan if code == 255 else 2.0 ** (code - 127)


def table(fn):
    return torch.tensor([fn(c) for c in range(256)], dtype=torch.float64).to(torch.float32)


# ------------------------------------------------------------------------------------------------------------------
# FP8 block dequantization, block by block as DeepSeek-V3's weight_dequant_kernel does (float32 product).
# ------------------------------------------------------------------------------------------------------------------

def fp8_block_dequant(codes, scale_inv, block_rows, block_cols):
    values = table(e4m3fn_value)[codes.long()]
    *lead, rows, cols = codes.shape
    out = torch.empty(values.shape, dtype=torch.float32)
    v = values.reshape(-1, rows, cols)
    s = scale_inv.to(torch.float32).reshape(-1, math.ceil(rows / block_rows), math.ceil(cols / block_cols))
    o = out.view(-1, rows, cols)
    for b in range(v.shape[0]):
        for i in range(s.shape[1]):
            for j in range(s.shape[2]):
                r0, r1 = i * block_rows, min((i + 1) * block_rows, rows)
                c0, c1 = j * block_cols, min((j + 1) * block_cols, cols)
                o[b, r0:r1, c0:c1] = v[b, r0:r1, c0:c1] * s[b, i, j]
    return out


def fp8_codes(gen, shape):
    """Random e4m3fn codes, every code but the two NaNs (quantized weights never hold NaN)."""
    codes = torch.randint(0, 254, shape, generator=gen, dtype=torch.int64)
    codes = codes + (codes >= 0x7F).long()               # skip 0x7F; 0xFF is above the range
    assert not ((codes == 0x7F) | (codes == 0xFF)).any()
    return codes.to(torch.uint8)


def fp8_scales(gen, shape):
    """Positive float32 multipliers with full mantissas, around the 1/448-ish range real checkpoints have."""
    return (torch.rand(shape, generator=gen, dtype=torch.float32) * 4.0 + 0.25) * 1e-3


# ------------------------------------------------------------------------------------------------------------------
# MXFP4: transformers' convert_moe_packed_tensors, literally (chunking aside), without the final transpose.
# ------------------------------------------------------------------------------------------------------------------

FP4_VALUES = [+0.0, +0.5, +1.0, +1.5, +2.0, +3.0, +4.0, +6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def convert_moe_packed_tensors(blocks, scales, dtype):
    scales = scales.to(torch.int32) - 127
    assert blocks.shape[:-1] == scales.shape
    lut = torch.tensor(FP4_VALUES, dtype=dtype)
    *prefix_shape, G, B = blocks.shape
    rows_total = math.prod(prefix_shape) * G
    blocks = blocks.reshape(rows_total, B)
    scales = scales.reshape(rows_total, 1)
    out = torch.empty(rows_total, B * 2, dtype=dtype)
    idx_lo = (blocks & 0x0F).to(torch.long)
    idx_hi = (blocks >> 4).to(torch.long)
    out[:, 0::2] = lut[idx_lo]
    out[:, 1::2] = lut[idx_hi]
    torch.ldexp(out, scales, out=out)
    return out.reshape(*prefix_shape, G, B * 2).view(*prefix_shape, G * B * 2)


def mxfp4_by_hand(blocks, scales):
    """The same values element by element from the format's definition, to check the transcription above."""
    *prefix, G, B = blocks.shape
    flat_b, flat_s = blocks.reshape(-1, B).tolist(), scales.reshape(-1).tolist()
    out = []
    for row, s in zip(flat_b, flat_s):
        for byte in row:
            for nibble in (byte & 0xF, byte >> 4):
                sign = -1.0 if nibble & 0x8 else 1.0
                e, m = (nibble >> 1) & 0x3, nibble & 0x1
                magnitude = (m / 2.0) if e == 0 else (1.0 + m / 2.0) * 2.0 ** (e - 1)
                out.append(sign * magnitude * 2.0 ** (s - 127))
    return torch.tensor(out, dtype=torch.float64).to(torch.float32).reshape(*prefix, G * B * 2)


def generate(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(20250801)

    codes = torch.arange(256, dtype=torch.int64).to(torch.uint8)
    save_safetensors(os.path.join(out, "float8_codes.safetensors"), {
        "codes": codes, "e4m3": table(e4m3fn_value), "e5m2": table(e5m2_value), "e8m0": table(e8m0_value),
    })

    weight = fp8_codes(gen, (150, 200))
    scale = fp8_scales(gen, (2, 2))
    experts = fp8_codes(gen, (2, 70, 90))
    experts_scale = fp8_scales(gen, (2, 3, 2)).to(torch.bfloat16)
    save_safetensors(os.path.join(out, "fp8_block.safetensors"), {
        "weight": (weight, "F8_E4M3"),
        "weight_scale_inv": scale,
        "dequantized": fp8_block_dequant(weight, scale, 128, 128),
        "experts.weight": (experts, "F8_E4M3"),
        "experts.weight_scale_inv": experts_scale,
        "experts.dequantized": fp8_block_dequant(experts, experts_scale, 32, 64),
    }, metadata={"weight_block_size": "[128, 128]", "experts.weight_block_size": "[32, 64]"})

    blocks = torch.randint(0, 256, (2, 6, 4, 16), generator=gen, dtype=torch.int64).to(torch.uint8)
    scales = torch.randint(112, 140, (2, 6, 4), generator=gen, dtype=torch.int64)
    scales[0, 0, 0], scales[0, 1, 1], scales[1, 2, 3] = 0, 1, 254   # 2^-127 (float32 subnormal), 2^-126, 2^127
    scales = scales.to(torch.uint8)
    dequantized = convert_moe_packed_tensors(blocks, scales, torch.float32)
    by_hand = mxfp4_by_hand(blocks, scales)
    assert torch.equal(dequantized.view(torch.int32), by_hand.view(torch.int32)), "transcription differs from the format"
    save_safetensors(os.path.join(out, "mxfp4.safetensors"), {
        "blocks": blocks, "scales": scales,
        "dequantized": dequantized,
        "dequantized_bf16": convert_moe_packed_tensors(blocks, scales, torch.bfloat16),
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "quantization"))
    args = parser.parse_args()
    generate(os.path.normpath(args.out))


if __name__ == "__main__":
    main()
