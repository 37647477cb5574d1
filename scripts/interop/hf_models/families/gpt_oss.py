"""gpt-oss ("gpt_oss", gpt-oss-20b / 120b): GptOssTopKRouter (logits = x·Wᵀ + b with its own bias, the top k of the
logits, softmax over those k) and GptOssExperts, stored input-major: experts.gate_up_proj [E, d, 2h] whose output
columns alternate gate (even) and up (odd), experts.gate_up_proj_bias [E, 2h] (same interleave), experts.down_proj
[E, h, d] and experts.down_proj_bias [E, d]; the clamped SwiGLU (gate clamped above at limit, up clamped to ±limit,
(up + 1) · gate · σ(α · gate), α = 1.702, limit = 7.0); every decoder layer MoE (GptOssDecoderLayer; the attention's
sliding/full alternation does not change the block).

Two fixtures:
  gpt_oss        BF16, unquantized (the layout of the BF16 re-releases and of transformers' own saves), d = 16, h = 8.
  gpt_oss_mxfp4  the published checkpoints' layout: the experts' weights MXFP4-quantized as
                 experts.gate_up_proj_blocks U8 [E, 2h, d/32, 16] + experts.gate_up_proj_scales U8 [E, 2h, d/32] and
                 experts.down_proj_blocks U8 [E, d, h/32, 16] + experts.down_proj_scales U8 [E, d, h/32] (the
                 output-major matrices, 32 input values per group, two e2m1 codes per byte, low nibble first; scales
                 e8m0, 2^(s − 127)); biases, router and norms BF16; config.json's quantization_config
                 {"quant_method": "mxfp4", "modules_to_not_convert": [...]} as published. d = 64 (two groups per
                 gate/up row), h = 32. The values are encoded here by hand (per group the smallest power of two that
                 brings the group's largest magnitude to at most 6, each value rounded to the nearest e2m1 code); the
                 forward uses the dequantized weights, as transformers' dequantizing load (convert_moe_packed_tensors,
                 transposed to the [E, d, 2h] / [E, h, d] parameters) gives them, checked against
                 quantization_reference.py's decoder written from the format's definition.

Weights are drawn large enough that the clamp at 7.0 acts on some chosen experts' gate and up values (asserted).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/gpt_oss/modular_gpt_oss.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86
    (GptOssExperts: experts_are_transposed, _apply_gate, the eager forward; GptOssTopKRouter.forward; GptOssMLP;
    GptOssDecoderLayer; the MLP registers router then experts, the experts gate_up_proj, gate_up_proj_bias, down_proj,
    down_proj_bias)
  src/transformers/models/gpt_oss/configuration_gpt_oss.py @ 02b8f42b4240dddea1b27c45d2dc95fb2682f841 (the fields)
  src/transformers/integrations/mxfp4.py @ 0189b1d09a03a87ec4f59831acb93cc1832d14e7 (Mxfp4GptOssExperts' packed shapes,
    convert_moe_packed_tensors: dequantize to bfloat16, then transpose(1, 2))
"""

import math

import torch
import torch.nn.functional as F

from quantization_reference import FP4_VALUES, convert_moe_packed_tensors, mxfp4_by_hand

from ..blocks import every_layer
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/gpt_oss/modular_gpt_oss.py@0261a467116de4a9103b58200f9d82f8fb5a0e86",
           "src/transformers/models/gpt_oss/configuration_gpt_oss.py@02b8f42b4240dddea1b27c45d2dc95fb2682f841"]
MXFP4_SOURCES = SOURCES + ["src/transformers/integrations/mxfp4.py@0189b1d09a03a87ec4f59831acb93cc1832d14e7"]
ALPHA, LIMIT = 1.702, 7.0  # GptOssExperts.__init__: self.alpha, self.limit
GROUP = 32  # MXFP4: values per e8m0 scale
# The published quantization_config (openai/gpt-oss-20b and -120b config.json).
QUANTIZATION_CONFIG = {"quant_method": "mxfp4", "modules_to_not_convert": [
    "model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}


def gpt_oss_router(hidden_states, weight, bias, top_k):
    """GptOssTopKRouter.forward: (router_logits, router_scores [T, k], router_indices [T, k])."""
    router_logits = F.linear(hidden_states, weight, bias)
    router_top_value, router_indices = torch.topk(router_logits, top_k, dim=-1)
    router_scores = torch.nn.functional.softmax(router_top_value, dim=1, dtype=router_top_value.dtype)
    return router_logits, router_scores, router_indices


def apply_gate(gate_up):
    """GptOssExperts._apply_gate."""
    gate, up = gate_up[..., ::2], gate_up[..., 1::2]
    gate = gate.clamp(min=None, max=LIMIT)
    up = up.clamp(min=-LIMIT, max=LIMIT)
    glu = gate * torch.sigmoid(gate * ALPHA)
    return (up + 1) * glu


def gpt_oss_experts(hidden_states, router_indices, routing_weights, gate_up_proj, gate_up_proj_bias, down_proj,
                    down_proj_bias, num_experts):
    """GptOssExperts.forward (eager): each hit expert on its tokens, weighted by the token's score in that slot."""
    next_states = torch.zeros_like(hidden_states)
    expert_mask = F.one_hot(router_indices, num_classes=num_experts).permute(2, 1, 0)
    expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
    for expert_idx in expert_hit:
        expert_idx = expert_idx[0]
        top_k_pos, token_idx = torch.where(expert_mask[expert_idx])
        current_state = hidden_states[token_idx]
        gate_up = current_state @ gate_up_proj[expert_idx] + gate_up_proj_bias[expert_idx]
        gated_output = apply_gate(gate_up)
        out = gated_output @ down_proj[expert_idx] + down_proj_bias[expert_idx]
        weighted_output = out * routing_weights[token_idx, top_k_pos, None]
        next_states.index_add_(0, token_idx, weighted_output.to(hidden_states.dtype))
    return next_states


def clamped_fraction(x, router_indices, gate_up_proj, gate_up_proj_bias):
    """The share of the chosen experts' gate and up values the clamp changes (to show the fixture exercises it)."""
    gate_up = torch.stack([x[t] @ gate_up_proj[int(e)] + gate_up_proj_bias[int(e)]
                           for t in range(x.shape[0]) for e in router_indices[t]])
    gate, up = gate_up[..., ::2], gate_up[..., 1::2]
    return float(((gate > LIMIT).sum() + (up.abs() > LIMIT).sum()) / gate_up.numel())


def gpt_oss_mlp(router, router_bias, top_k, gate_up_proj, gate_up_proj_bias, down_proj, down_proj_bias):
    """GptOssMLP.forward on x [T, d] float32."""
    num_experts = router.shape[0]

    def forward(x):
        logits, scores, indices = gpt_oss_router(x, router, router_bias, top_k)
        out = gpt_oss_experts(x, indices, scores, gate_up_proj, gate_up_proj_bias, down_proj, down_proj_bias, num_experts)
        top = torch.topk(logits, top_k + 1, dim=-1)[0]
        assert clamped_fraction(x, indices, gate_up_proj, gate_up_proj_bias) > 0.01, "the clamp at 7.0 never acts"
        return LayerResult(out, logits, indices, scores, float((top[:, top_k - 1] - top[:, top_k]).min()))
    return forward


# ------------------------------------------------------------------------------------------------------------------
# MXFP4, encoded by hand.
# ------------------------------------------------------------------------------------------------------------------


def encode_mxfp4(weight):
    """weight [E, R, C] float (C a multiple of 32) -> (blocks U8 [E, R, C/32, 16], scales U8 [E, R, C/32]): per group of
    32 consecutive values of a row the smallest power of two 2^s with max|v| / 2^s <= 6, each v / 2^s rounded to the
    nearest e2m1 magnitude (0, 0.5, 1, 1.5, 2, 3, 4, 6; ties to the smaller), sign in bit 3, value 2i in the low and
    2i + 1 in the high nibble of byte i, scale byte s + 127."""
    experts, rows, columns = weight.shape
    groups = weight.double().reshape(experts, rows, columns // GROUP, GROUP)
    largest = groups.abs().amax(dim=-1)
    exponent = torch.tensor([max(-127, math.ceil(math.log2(v / 6.0))) if v > 0 else -127 for v in largest.flatten().tolist()],
                            dtype=torch.float64).reshape(largest.shape)
    scaled = groups / torch.pow(2.0, exponent)[..., None]
    magnitudes = torch.tensor(FP4_VALUES[:8], dtype=torch.float64)
    magnitude = (scaled.abs()[..., None] - magnitudes).abs().argmin(dim=-1)
    sign = ((scaled < 0) & (magnitude > 0)).long() << 3
    code = magnitude | sign
    blocks = (code[..., 0::2] | (code[..., 1::2] << 4)).to(torch.uint8)
    scales = (exponent + 127).to(torch.uint8)
    return blocks, scales


def mxfp4_weight(weights, key, dequantized_shape, std):
    """Stores key_blocks / key_scales for a random [E, R, C] (output-major) matrix; returns the parameter transformers
    builds from them: convert_moe_packed_tensors (bfloat16) transposed to [E, C, R], as float32."""
    value = torch.randn(*dequantized_shape, generator=weights.generator) * std
    blocks, scales = encode_mxfp4(value)
    weights.packed(key + "_blocks", blocks)
    weights.packed(key + "_scales", scales)
    decoded = convert_moe_packed_tensors(blocks, scales, torch.float32)
    assert torch.equal(decoded, mxfp4_by_hand(blocks, scales)), "transformers' decoder and the format's disagree"
    assert torch.equal(convert_moe_packed_tensors(blocks, scales, torch.bfloat16).float(), decoded), "not exact in bf16"
    step = torch.pow(2.0, scales.double() - 127).repeat_interleave(GROUP, dim=-1)  # the spacing near the largest codes
    assert bool(((decoded.double() - value.double()).abs() <= step).all()), "a value is not rounded to a nearby code"
    return decoded.transpose(1, 2).contiguous()


# ------------------------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------------------------


def config(hidden, width, experts, top_k, layers, quantized):
    cfg = {"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "hidden_size": hidden,
           "intermediate_size": width, "num_local_experts": experts, "num_experts_per_tok": top_k,
           "experts_per_token": top_k, "num_hidden_layers": layers, "hidden_act": "silu", "swiglu_limit": LIMIT,
           "router_aux_loss_coef": 0.9, "output_router_logits": False, "rms_norm_eps": 1e-5, "attention_bias": True,
           "head_dim": 8, "num_attention_heads": 2, "num_key_value_heads": 1, "sliding_window": 128,
           "layer_types": ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)],
           "rope_theta": 150000, "tie_word_embeddings": False, **dtype_field(torch.bfloat16, v5=False)}
    if quantized:
        cfg["quantization_config"] = QUANTIZATION_CONFIG
    return cfg


def build(name, quantized):
    hidden, width = (64, 32) if quantized else (HIDDEN, EXPERT_WIDTH)
    experts, top_k = 8, 4
    cfg = config(hidden, width, experts, top_k, 2, quantized)
    weights = Weights(seed_of(name, "weights"), torch.bfloat16)
    moe = {}
    for layer in every_layer(cfg):
        prefix = f"model.layers.{layer}.mlp."
        router = weights.linear(prefix + "router.weight", experts, hidden)
        router_bias = weights.buffer(prefix + "router.bias", (experts,), std=0.5, dtype=torch.bfloat16)
        gate_up_std, down_std = 4.0 / math.sqrt(hidden), 1.0 / math.sqrt(width)
        if quantized:
            gate_up_proj = mxfp4_weight(weights, prefix + "experts.gate_up_proj", (experts, 2 * width, hidden), gate_up_std)
            gate_up_proj_bias = weights.buffer(prefix + "experts.gate_up_proj_bias", (experts, 2 * width), 0.5, torch.bfloat16)
            down_proj = mxfp4_weight(weights, prefix + "experts.down_proj", (experts, hidden, width), down_std)
        else:
            gate_up_proj = weights.buffer(prefix + "experts.gate_up_proj", (experts, hidden, 2 * width), gate_up_std, torch.bfloat16)
            gate_up_proj_bias = weights.buffer(prefix + "experts.gate_up_proj_bias", (experts, 2 * width), 0.5, torch.bfloat16)
            down_proj = weights.buffer(prefix + "experts.down_proj", (experts, width, hidden), down_std, torch.bfloat16)
        down_proj_bias = weights.buffer(prefix + "experts.down_proj_bias", (experts, hidden), 0.1, torch.bfloat16)
        moe[layer] = gpt_oss_mlp(router, router_bias, top_k, gate_up_proj, gate_up_proj_bias, down_proj, down_proj_bias)
        weights.norm(f"model.layers.{layer}.input_layernorm.weight", hidden)
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight", hidden)
    return Fixture(name, cfg, weights.stored, moe, [], torch.bfloat16, "fused", MXFP4_SOURCES if quantized else SOURCES,
                   hidden=hidden)


FIXTURES = [Recipe("gpt_oss", lambda: build("gpt_oss", quantized=False)),
            Recipe("gpt_oss_mxfp4", lambda: build("gpt_oss_mxfp4", quantized=True))]
