"""Granite MoE: top-k of the router logits, softmax over those k (GraniteMoeTopKGating = JetMoeTopKGating); experts as
GraniteMoeParallelExperts, block_sparse_moe.input_linear.weight [E, 2h, d] whose output's first half goes through the
activation (the gate) and second half is the up projection, and block_sparse_moe.output_linear.weight [E, d, h]; every
layer MoE. Published layout (BF16).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/granitemoe/modular_granitemoe.py @ 023633dd63876e9f65e733a9f547952052b63d6a
    (GraniteMoeMoE.__init__ registers input_linear, output_linear, router in that order; GraniteMoeMoE.forward:
    chunk(2, dim=-1), activation(chunk[0]) * chunk[1]; GraniteMoeDecoderLayer: block_sparse_moe in every layer)
  src/transformers/models/granitemoe/modeling_granitemoe.py @ 013458c1caaacbd32680c030827296fa65d6fe99
    (GraniteMoeTopKGating.forward: logits = layer(x).float(), topk, softmax over the k; GraniteMoeParallelExperts:
    weight [num_experts, output_size, input_size], F.linear per expert)
"""

import torch
import torch.nn.functional as F

from ..blocks import activation, every_layer
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/granitemoe/modular_granitemoe.py@023633dd63876e9f65e733a9f547952052b63d6a",
           "src/transformers/models/granitemoe/modeling_granitemoe.py@013458c1caaacbd32680c030827296fa65d6fe99"]


def granite_block(router, input_linear, output_linear, top_k, act):
    """GraniteMoeMoE.forward (router = GraniteMoeTopKGating) on x [T, d] float32."""
    def forward(x):
        logits = F.linear(x, router).float()
        top_k_logits, top_k_indices = logits.topk(top_k, dim=1)
        top_k_gates = torch.softmax(top_k_logits, dim=1).type_as(x)
        out = torch.zeros_like(x)
        for t in range(x.shape[0]):
            for slot in range(top_k):
                e = int(top_k_indices[t, slot])
                hidden = F.linear(x[t:t + 1], input_linear[e])
                gate, up = hidden.chunk(2, dim=-1)
                out[t] += F.linear(act(gate) * up, output_linear[e])[0] * top_k_gates[t, slot]
        top = torch.topk(logits, top_k + 1, dim=-1)[0]
        margin = float((top[:, top_k - 1] - top[:, top_k]).min())
        return LayerResult(out, logits, top_k_indices, top_k_gates, margin)
    return forward


def granite_weights(weights, layer, cfg):
    """One GraniteMoeMoE's parameters in registration order: (router, input_linear, output_linear) float32."""
    prefix, experts, width = f"model.layers.{layer}.block_sparse_moe.", cfg["num_local_experts"], cfg["intermediate_size"]
    input_linear = weights.stacked(prefix + "input_linear.weight", experts, 2 * width, HIDDEN)
    output_linear = weights.stacked(prefix + "output_linear.weight", experts, HIDDEN, width)
    router = weights.linear(prefix + "router.layer.weight", experts, HIDDEN)
    return router, input_linear, output_linear


def config(model_type, architecture, dtype, **extra):
    return {"architectures": [architecture], "model_type": model_type, "hidden_size": HIDDEN,
            "intermediate_size": EXPERT_WIDTH, "num_local_experts": 8, "num_experts_per_tok": 2, "num_hidden_layers": 2,
            "hidden_act": "silu", "rms_norm_eps": 1e-6, "embedding_multiplier": 12.0, "residual_multiplier": 0.22,
            "attention_multiplier": 0.0078125, "logits_scaling": 6.0, "output_router_logits": False,
            "router_aux_loss_coef": 0.001, **extra, **dtype_field(dtype, v5=False)}


def build(name, dtype):
    cfg = config("granitemoe", "GraniteMoeForCausalLM", dtype)
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe = activation(cfg), {}
    for layer in every_layer(cfg):
        moe[layer] = granite_block(*granite_weights(weights, layer, cfg), cfg["num_experts_per_tok"], act)
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    return Fixture(name, cfg, weights.stored, moe, [], dtype, "fused", SOURCES)


FIXTURES = [Recipe("granitemoe", lambda: build("granitemoe", torch.bfloat16))]
