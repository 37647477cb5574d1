"""Kimi K2: DeepSeek-V3's architecture under model_type "kimi_k2". The published config.json of
moonshotai/Kimi-K2-Instruct (and -Base) names architectures ["DeepseekV3ForCausalLM"] and maps its auto classes to
DeepSeek's configuration_deepseek / modeling_deepseek; Moonshot's deployment guide says the model_type only lets engines
tell it apart, and that renaming it "deepseek_v3" runs it unchanged. So the block is DeepseekV3MoE as transcribed for
deepseek_v3.py (blocks.deepseek_moe), with Kimi's published routing: n_group = topk_group = 1 (no group limit),
routed_scaling_factor 2.827, first_k_dense_replace 1. Per-expert layout only (no transformers v5 conversion exists for
this model_type), BF16 with the bias F32 as published (the Hub's block-FP8 weights are out of scope).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/deepseek_v3/modeling_deepseek_v3.py @ f5a9ec512fa9fe69e51ea0c6388c68d50de567b3 and
    @ 00b676f8f0489b88652a31d70751cc540dd06305 (as deepseek_v3.py)
"""

import torch

from ..blocks import activation, build_experts, build_mlp, deepseek_moe, deepseek_moe_layers
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/deepseek_v3/modeling_deepseek_v3.py@f5a9ec512fa9fe69e51ea0c6388c68d50de567b3",
           "src/transformers/models/deepseek_v3/modeling_deepseek_v3.py@00b676f8f0489b88652a31d70751cc540dd06305"]


def build(name, dtype):
    experts_count = 12
    cfg = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "kimi_k2", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "n_routed_experts": experts_count,
           "n_shared_experts": 1, "num_experts_per_tok": 3, "n_group": 1, "topk_group": 1,
           "routed_scaling_factor": 2.827, "norm_topk_prob": True, "scoring_func": "sigmoid", "topk_method": "noaux_tc",
           "first_k_dense_replace": 1, "moe_layer_freq": 1, "num_hidden_layers": 2, "hidden_act": "silu",
           "aux_loss_alpha": 0.001, "rms_norm_eps": 1e-6, **dtype_field(dtype, v5=False)}
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
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, weights.stored, moe, dense, dtype, "per_expert", SOURCES)


FIXTURES = [Recipe("kimi_k2", lambda: build("kimi_k2", torch.bfloat16))]
