"""ERNIE 4.5 MoE: router logits in float32 (gate.weight is kept float32, _keep_in_fp32_modules_strict), p = softmax;
experts chosen by p + moe_statics.e_score_correction_bias (a float32 [1, E] parameter), weighted by p / clamp(sum,
min=moe_norm_min); shared experts (one MLP of width moe_num_shared_experts * moe_intermediate_size) added unscaled.
Layer i is MoE iff (i + 1) % moe_layer_interval == 0 and moe_layer_start_index <= i <= moe_layer_end_index. Per-expert
layout, as published (BF16 experts, F32 gate and bias).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/ernie4_5_moe/modular_ernie4_5_moe.py @ a4d4492db0a8bea16dce21574473fd3809d40bc3
    (Ernie4_5_MoeStatics, Ernie4_5_MoeSparseMoeBlock.__init__ registers moe_statics, gate, experts, shared_experts in
    that order, and .forward; Ernie4_5_MoeMLP (Qwen3MoeMLP with bias=use_bias); Ernie4_5_MoeDecoderLayer.__init__: the
    schedule above, else Ernie4_5_MoeMLP(config) of width intermediate_size)
  src/transformers/models/ernie4_5_moe/configuration_ernie4_5_moe.py @ 001f85b38fb432858ace93f18622f07cec46d874
    (moe_layer_end_index -1 means num_hidden_layers - 1)
"""

import math

import torch
import torch.nn.functional as F

from ..blocks import activation, build_experts, build_mlp
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of
from make_hf_fixtures import swiglu_mlp

SOURCES = ["src/transformers/models/ernie4_5_moe/modular_ernie4_5_moe.py@a4d4492db0a8bea16dce21574473fd3809d40bc3",
           "src/transformers/models/ernie4_5_moe/configuration_ernie4_5_moe.py@001f85b38fb432858ace93f18622f07cec46d874"]


def ernie_moe_layers(cfg):
    """Ernie4_5_MoeDecoderLayer.__init__ (end index -1: the last layer, as the configuration resolves it)."""
    layers = cfg["num_hidden_layers"]
    end = layers - 1 if cfg["moe_layer_end_index"] == -1 else cfg["moe_layer_end_index"]
    return [i for i in range(layers)
            if (i + 1) % cfg["moe_layer_interval"] == 0 and cfg["moe_layer_start_index"] <= i <= end]


def ernie_moe(gate, bias, experts, shared, cfg, act):
    """Ernie4_5_MoeSparseMoeBlock.forward on x [T, d] float32."""
    k, norm_min = cfg["moe_k"], cfg["moe_norm_min"]

    def forward(x):
        shared_output = swiglu_mlp(x, *shared, act)
        router_logits = F.linear(x.float(), gate)
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        choice = routing_weights + bias.squeeze()  # Ernie4_5_MoeStatics.forward
        _, selected_experts = torch.topk(choice, k, dim=-1)
        routing_weights = torch.gather(routing_weights, dim=-1, index=selected_experts)
        routing_weights = routing_weights / torch.clamp(routing_weights.sum(dim=-1, keepdim=True), min=norm_min)
        out = torch.zeros_like(x)
        for slot in range(k):
            for t in range(x.shape[0]):
                e = int(selected_experts[t, slot])
                out[t] += swiglu_mlp(x[t:t + 1], *experts[e], act)[0] * routing_weights[t, slot]
        top = torch.topk(choice, k + 1, dim=-1)[0]
        margin = float((top[:, k - 1] - top[:, k]).min())
        return LayerResult(out + shared_output, router_logits, selected_experts, routing_weights, margin)
    return forward


def build(name, dtype):
    experts_count = 8
    cfg = {"architectures": ["Ernie4_5_MoeForCausalLM"], "model_type": "ernie4_5_moe", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "moe_num_experts": experts_count, "moe_k": 3,
           "moe_num_shared_experts": 2, "moe_layer_start_index": 1, "moe_layer_end_index": 2, "moe_layer_interval": 1,
           "moe_norm_min": 1e-12, "use_bias": False, "num_hidden_layers": 4, "hidden_act": "silu", "rms_norm_eps": 1e-5,
           "router_aux_loss_coef": 0.001, "tie_word_embeddings": True, **dtype_field(dtype, v5=False)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe_layers, moe = activation(cfg), ernie_moe_layers(cfg), {}
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp."
        if layer in moe_layers:
            bias = weights.buffer(prefix + "moe_statics.e_score_correction_bias", (1, experts_count), std=0.05)
            gate = weights.buffer(prefix + "gate.weight", (experts_count, HIDDEN), std=1 / math.sqrt(HIDDEN))
            experts = build_experts(weights, prefix, experts_count)
            shared = build_mlp(weights, prefix + "shared_experts.", cfg["moe_intermediate_size"] * cfg["moe_num_shared_experts"])
            moe[layer] = ernie_moe(gate, bias, experts, shared, cfg, act)
        else:
            build_mlp(weights, prefix, cfg["intermediate_size"])
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, weights.stored, moe, dense, dtype, "per_expert", SOURCES)


FIXTURES = [Recipe("ernie4_5_moe", lambda: build("ernie4_5_moe", torch.bfloat16))]
