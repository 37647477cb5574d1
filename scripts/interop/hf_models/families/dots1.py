"""dots.llm1: Dots1MoE / Dots1TopkRouter / Dots1DecoderLayer are transformers' DeepseekV3MoE / DeepseekV3TopkRouter /
DeepseekV3DecoderLayer (MoE iff layer_idx >= first_k_dense_replace, else an MLP of intermediate_size): sigmoid,
e_score_correction_bias for the choice, groups (1 here, as published), weights / (sum + 1e-20) when norm_topk_prob,
x routed_scaling_factor, n_shared_experts shared experts (2, as published) of width moe_intermediate_size.
Per-expert layout (as published, BF16 with the bias F32) and transformers v5 fused layout (F32).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/dots1/modular_dots1.py @ 912f143a14761787ed6b721b33bc65370e17269d (the classes above are
    the DeepSeek-V3 ones; their arithmetic is blocks.deepseek_moe's, cited in deepseek_v3.py)
  src/transformers/conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6 ("dots1" = "qwen2_moe")
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, deepseek_moe, deepseek_moe_layers,
                      fuse_experts, fused_tensors)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/dots1/modular_dots1.py@912f143a14761787ed6b721b33bc65370e17269d"]
FUSED_SOURCES = SOURCES + ["src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6"]


def build(name, dtype, fused):
    experts_count = 8
    cfg = {"architectures": ["Dots1ForCausalLM"], "model_type": "dots1", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "n_routed_experts": experts_count,
           "n_shared_experts": 2, "num_experts_per_tok": 3, "n_group": 1, "topk_group": 1,
           "routed_scaling_factor": 2.5, "norm_topk_prob": True, "scoring_func": "sigmoid",
           "first_k_dense_replace": 1, "num_hidden_layers": 3, "hidden_act": "silu", "rms_norm_eps": 1e-5,
           **dtype_field(dtype, v5=fused)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe_layers, moe = activation(cfg), deepseek_moe_layers(cfg), {}
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp."
        if layer in moe_layers:
            experts = build_experts(weights, prefix, experts_count)
            router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
            bias = weights.buffer(prefix + "gate.e_score_correction_bias", (experts_count,), std=0.05)
            shared = build_mlp(weights, prefix + "shared_experts.", cfg["moe_intermediate_size"] * cfg["n_shared_experts"])
            moe[layer] = deepseek_moe(router, bias, cfg, act, (shared, None), experts=experts)
        else:
            build_mlp(weights, prefix, cfg["intermediate_size"])
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    stored = weights.stored
    if fused:
        for layer in moe_layers:
            prefix = f"model.layers.{layer}.mlp."
            stored = fuse_experts(stored, prefix, experts_count)
            router = stored[prefix + "gate.weight"].float()
            bias = stored[prefix + "gate.e_score_correction_bias"]
            shared = tuple(stored[f"{prefix}shared_experts.{p}.weight"].float() for p in ("gate_proj", "up_proj", "down_proj"))
            v5 = deepseek_moe(router, bias, cfg, act, (shared, None), fused=fused_tensors(stored, prefix))
            moe[layer] = cross_checked(v5, moe[layer])
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, stored, moe, dense, dtype, "fused" if fused else "per_expert",
                   FUSED_SOURCES if fused else SOURCES)


FIXTURES = [Recipe("dots1", lambda: build("dots1", torch.bfloat16, False)),
            Recipe("dots1_fused", lambda: build("dots1_fused", torch.float32, True))]
