"""Hunyuan MoE (Hunyuan-A13B): HunYuanMoEV1Gate (mlp.gate.wg, a float32 nn.Linear: float32 logits), softmax over E,
top moe_topk, always divided by their sum; SwiGLU experts and one shared_mlp, all of width intermediate_size, added to
the routed output; every decoder layer MoE. num_experts / moe_topk / moe_intermediate_size / num_shared_expert written
as the published configs write them (moe_topk etc. as per-layer lists, one value throughout). Per-expert layout (BF16,
the router included) and transformers v5 fused layout (F32).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/hunyuan_v1_moe/modeling_hunyuan_v1_moe.py @ f3f034d7fae0e5afb8bb6b387cd3aefc499a6a69 and
    modular_hunyuan_v1_moe.py @ 3404f51e382117e3181e9ad481f2de723889643e (HunYuanMoEV1Gate.forward,
    HunYuanMoEV1Moe.forward: the routed part is make_hf_fixtures.softmax_topk_block with norm on, line for line, plus
    shared_mlp(x); HunYuanMoEV1DecoderLayer: always HunYuanMoEV1Moe)
  v5: modular_hunyuan_v1_moe.py (HunYuanMoEV1Experts = MixtralExperts, route_tokens_to_experts: the same softmax,
    top-k and division) and src/transformers/conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6
    ("hunyuan_v1_moe" = "qwen2_moe")
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, every_layer, fuse_experts,
                      fused_softmax_moe, fused_tensors, softmax_moe)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/hunyuan_v1_moe/modeling_hunyuan_v1_moe.py@f3f034d7fae0e5afb8bb6b387cd3aefc499a6a69",
           "src/transformers/models/hunyuan_v1_moe/modular_hunyuan_v1_moe.py@3404f51e382117e3181e9ad481f2de723889643e"]
FUSED_SOURCES = SOURCES + ["src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6"]


def build(name, dtype, fused):
    experts_count, top_k, layers = 8, 2, 2
    cfg = {"architectures": ["HunYuanMoEV1ForCausalLM"], "model_type": "hunyuan_v1_moe", "hidden_size": HIDDEN,
           "intermediate_size": EXPERT_WIDTH, "num_experts": experts_count, "moe_topk": [top_k] * layers,
           "moe_intermediate_size": [EXPERT_WIDTH] * layers, "num_shared_expert": [1] * layers,
           "use_mixed_mlp_moe": True, "num_hidden_layers": layers, "hidden_act": "silu", "rms_norm_eps": 1e-5,
           **dtype_field(dtype, v5=fused)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe = activation(cfg), {}
    for layer in every_layer(cfg):
        prefix = f"model.layers.{layer}.mlp."
        router = weights.linear(prefix + "gate.wg.weight", experts_count, HIDDEN)
        experts = build_experts(weights, prefix, experts_count)
        shared = build_mlp(weights, prefix + "shared_mlp.", cfg["intermediate_size"])
        moe[layer] = softmax_moe(router, experts, top_k, True, act, shared=(shared, None))
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    stored = weights.stored
    if fused:
        for layer in every_layer(cfg):
            prefix = f"model.layers.{layer}.mlp."
            stored = fuse_experts(stored, prefix, experts_count)
            shared = tuple(stored[f"{prefix}shared_mlp.{p}.weight"].float() for p in ("gate_proj", "up_proj", "down_proj"))
            v5 = fused_softmax_moe(stored[prefix + "gate.wg.weight"].float(), *fused_tensors(stored, prefix), top_k, True,
                                   act, shared=(shared, None))
            moe[layer] = cross_checked(v5, moe[layer])
    return Fixture(name, cfg, stored, moe, [], dtype, "fused" if fused else "per_expert",
                   FUSED_SOURCES if fused else SOURCES)


FIXTURES = [Recipe("hunyuan_v1_moe", lambda: build("hunyuan_v1_moe", torch.bfloat16, False)),
            Recipe("hunyuan_v1_moe_fused", lambda: build("hunyuan_v1_moe_fused", torch.float32, True))]
