"""DeepSeek-V3: sigmoid scores, an aux-loss-free balance bias (gate.e_score_correction_bias, F32 buffer) used for the
choice only, group-limited top-k (n_group groups, the best topk_group by the sum of their top-2 choices, the other
groups' choices set to 0.0), weights = chosen scores / (sum + 1e-20) * routed_scaling_factor, plus shared experts;
the first first_k_dense_replace layers dense. Per-expert layout (as published) and transformers v5 fused layout.

Transcribed from github.com/huggingface/transformers:
  per expert: src/transformers/models/deepseek_v3/modeling_deepseek_v3.py @ f5a9ec512fa9fe69e51ea0c6388c68d50de567b3
    (DeepseekV3TopkRouter.forward + get_topk_indices, DeepseekV3MoE.moe + forward, DeepseekV3MLP), and the same file
    @ 00b676f8f0489b88652a31d70751cc540dd06305 (DeepseekV3DecoderLayer.__init__: DeepseekV3MoE iff layer_idx >=
    first_k_dense_replace, else DeepseekV3MLP(config) of width intermediate_size; DeepseekV3MoE registers experts,
    gate (weight, then the e_score_correction_bias buffer), shared_experts: the state-dict order the shards follow)
  fused (v5): src/transformers/models/deepseek_v3/modular_deepseek_v3.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6
    (DeepseekV3MoE.route_tokens_to_experts: the same arithmetic as v4's router; experts = DeepseekV3NaiveMoe
    (MixtralExperts), gate, shared_experts); src/transformers/conversion_mapping.py @ 000c33fd... ("deepseek_v3" =
    "qwen2_moe": mlp.experts.*.gate_proj/up_proj stacked (MergeModulelist(dim=0)) and concatenated (Concatenate(dim=1))
    into mlp.experts.gate_up_proj [E, 2h, d], mlp.experts.*.down_proj stacked into mlp.experts.down_proj [E, d, h]: so
    v5 fuses DeepSeek's experts exactly as Qwen2-MoE's, h = moe_intermediate_size since the stacked tensors are the
    checkpoint's experts); src/transformers/integrations/moe.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (the
    experts' eager forward, weights taken per top-k slot).
  Note: the v5 development snapshot modeling_deepseek_v3.py @ 44bcb9df5e93cf4f2d49a3f7635b6bd0e07ad9f2 sized
  DeepseekV3NaiveMoe by config.intermediate_size and read top_k_weights[token, expert]; the fixture follows the
  conversion mapping and the eager reference above (intermediate_size 32 != moe_intermediate_size 8 here, so a loader
  that took the width from intermediate_size fails on this folder).
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, deepseek_moe, deepseek_moe_layers,
                      fuse_experts, fused_tensors)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Sharding, Weights, dtype_field, seed_of
from ..fp8 import Fp8Storage, projections_only, quantization_config

PER_EXPERT_SOURCES = ["src/transformers/models/deepseek_v3/modeling_deepseek_v3.py@f5a9ec512fa9fe69e51ea0c6388c68d50de567b3",
                      "src/transformers/models/deepseek_v3/modeling_deepseek_v3.py@00b676f8f0489b88652a31d70751cc540dd06305"]
FUSED_SOURCES = ["src/transformers/models/deepseek_v3/modular_deepseek_v3.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
                 "src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
                 "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]


def build(name, dtype, fused, sharding, fp8=None):
    experts_count = 16
    cfg = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "n_routed_experts": experts_count,
           "n_shared_experts": 1, "num_experts_per_tok": 4, "n_group": 4, "topk_group": 2,
           "routed_scaling_factor": 2.5, "norm_topk_prob": True, "scoring_func": "sigmoid", "topk_method": "noaux_tc",
           "first_k_dense_replace": 1, "moe_layer_freq": 1, "num_hidden_layers": 3, "hidden_act": "silu",
           "rms_norm_eps": 1e-6, **dtype_field(dtype, v5=fused)}
    if fp8 is not None:
        cfg["quantization_config"] = quantization_config(fp8.block)
    weights = Weights(seed_of(name, "weights"), dtype, fp8)
    act, moe_layers, moe, native = activation(cfg), deepseek_moe_layers(cfg), {}, {}
    in_dtype = dtype != torch.float32 and not fused and fp8 is None
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp."
        if layer in moe_layers:
            experts = build_experts(weights, prefix, experts_count)
            router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
            # A float32 buffer in the published checkpoints, whatever the weights' dtype.
            bias = weights.buffer(prefix + "gate.e_score_correction_bias", (experts_count,), std=0.05)
            shared = build_mlp(weights, prefix + "shared_experts.", cfg["moe_intermediate_size"] * cfg["n_shared_experts"])
            moe[layer] = deepseek_moe(router, bias, cfg, act, (shared, None), experts=experts)
            if in_dtype:  # the stored values exactly; DeepseekV3TopkRouter casts to float32 itself
                stored_as = lambda ws: tuple(w.to(dtype) for w in ws)  # noqa: E731
                native[layer] = deepseek_moe(router, bias, cfg, act, (stored_as(shared), None),
                                             experts=[stored_as(e) for e in experts])
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
                   FUSED_SOURCES if fused else PER_EXPERT_SOURCES, sharding, native_layers=native)


FIXTURES = [Recipe("deepseek_v3", lambda: build("deepseek_v3", torch.bfloat16, False,
                                                Sharding(straddle_layer=1, new_shard_at_layers=(2,)))),
            Recipe("deepseek_v3_fused", lambda: build("deepseek_v3_fused", torch.float32, True, Sharding())),
            # DeepSeek-V3/R1's FP8 release (Kimi K2 and MiniMax-M2 store theirs alike): every projection of the experts,
            # the shared experts and the dense layers' MLP F8_E4M3 with an F32 weight_scale_inv; gate.weight and norms
            # BF16, e_score_correction_bias F32. 3 × 5 blocks: several per weight, partial at the edges both ways.
            Recipe("deepseek_v3_fp8", lambda: build("deepseek_v3_fp8", torch.bfloat16, False,
                                                    Sharding(straddle_layer=1, new_shard_at_layers=(2,)),
                                                    Fp8Storage((3, 5), torch.float32, projections_only)))]
