"""DBRX: softmax over E in float32, top-k, the k weights divided by their p-norm with p = moe_normalize_expert_weights
(1 here: the sum), SwiGLU experts stored flattened as three [E·h, d] tensors ffn.experts.mlp.w1 (gate), v1 (up) and
w2 (down, used without a transpose: out = (silu(x w1ᵀ) · x v1ᵀ) w2); every block MoE, under transformer.blocks.{i}.
Published layout, BF16 as on the Hub.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/dbrx/modeling_dbrx.py @ 7c65d177a1df42590956c680055d79abc9aa3b7f
    (DbrxRouter.forward: weights = layer(x).softmax(dim=-1, dtype=float32); topk(moe_top_k); top_weights /
    torch.norm(top_weights, p=moe_normalize_expert_weights, dim=-1, keepdim=True) unless it is None;
    DbrxExpertGLU: w1, v1, w2 = Parameter(E * ffn_hidden_size, d_model), forward x.matmul(w1.t()),
    x.matmul(v1.t()), act(gate) * up, .matmul(w2); DbrxExperts: each viewed [E, ffn_hidden_size, d_model] and taken
    per expert, expert output × top_weights, index_add; DbrxFFN registers router (DbrxRouter.layer) then experts
    (DbrxExperts.mlp); DbrxBlock registers norm_attn_norm (norm_1, attn, norm_2) then ffn)
  src/transformers/models/dbrx/configuration_dbrx.py @ 23966c3f60ed43863fde91f2fadcc95c178216e1
    (DbrxConfig: d_model, n_layers, ffn_config; DbrxFFNConfig: ffn_hidden_size, moe_num_experts, moe_top_k,
    moe_normalize_expert_weights, ffn_act_fn {"name": "silu"})
"""

import torch
import torch.nn.functional as F

from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of
from make_hf_fixtures import ACT2FN, margin_softmax

SOURCES = ["src/transformers/models/dbrx/modeling_dbrx.py@7c65d177a1df42590956c680055d79abc9aa3b7f",
           "src/transformers/models/dbrx/configuration_dbrx.py@23966c3f60ed43863fde91f2fadcc95c178216e1"]
NORMS = ("norm_attn_norm.norm_1", "norm_attn_norm.norm_2")


def dbrx_router(x, layer_weight, top_k, p):
    """DbrxRouter.forward in evaluation (no jitter): (softmax weights [T, E], top_weights, top_experts, logits)."""
    logits = F.linear(x, layer_weight)
    weights = logits.softmax(dim=-1, dtype=torch.float32)
    top_weights, top_experts = torch.topk(weights, top_k, dim=-1)
    scale = torch.norm(top_weights, p=p, dim=-1, keepdim=True) if p is not None else 1.0
    top_weights = top_weights / scale
    return weights.to(x.dtype), top_weights.to(x.dtype), top_experts, logits


def dbrx_experts(x, w1, v1, w2, top_weights, top_experts, experts_count, width, act):
    """DbrxExperts.forward + DbrxExpertGLU.forward."""
    hidden = x.shape[-1]
    out = torch.zeros_like(x)
    expert_mask = F.one_hot(top_experts, num_classes=experts_count).permute(2, 1, 0)
    w1_chunked = [w.squeeze(0) for w in w1.view(experts_count, width, hidden).chunk(experts_count, dim=0)]
    v1_chunked = [v.squeeze(0) for v in v1.view(experts_count, width, hidden).chunk(experts_count, dim=0)]
    w2_chunked = [w.squeeze(0) for w in w2.view(experts_count, width, hidden).chunk(experts_count, dim=0)]
    for e in range(experts_count):
        topk_idx, token_idx = torch.where(expert_mask[e])
        if token_idx.shape[0] == 0:
            continue
        tokens = x[None, token_idx].reshape(-1, hidden)
        gate = act(tokens.matmul(w1_chunked[e].t()))
        up = tokens.matmul(v1_chunked[e].t())
        expert_out = (gate * up).matmul(w2_chunked[e]) * top_weights[token_idx, topk_idx, None]
        out.index_add_(0, token_idx, expert_out)
    return out


def dbrx_ffn(router, w1, v1, w2, ffn_cfg):
    act = ACT2FN[ffn_cfg["ffn_act_fn"]["name"]]
    k, p, count, width = ffn_cfg["moe_top_k"], ffn_cfg["moe_normalize_expert_weights"], ffn_cfg["moe_num_experts"], ffn_cfg["ffn_hidden_size"]

    def forward(x):
        probs, top_weights, top_experts, logits = dbrx_router(x, router, k, p)
        out = dbrx_experts(x, w1, v1, w2, top_weights, top_experts, count, width, act)
        return LayerResult(out, logits, top_experts, top_weights, margin_softmax(probs, k))
    return forward


def build(name, dtype):
    ffn = {"ffn_act_fn": {"name": "silu"}, "ffn_hidden_size": EXPERT_WIDTH, "moe_num_experts": 8, "moe_top_k": 4,
           "moe_jitter_eps": 0.01, "moe_loss_weight": 0.05, "moe_normalize_expert_weights": 1}
    cfg = {"architectures": ["DbrxForCausalLM"], "model_type": "dbrx", "d_model": HIDDEN, "n_heads": 2, "n_layers": 2,
           "max_seq_len": 64, "ffn_config": ffn, "attn_config": {"kv_n_heads": 1, "clip_qkv": 8, "rope_theta": 500000},
           "output_router_logits": False, **dtype_field(dtype, v5=False)}
    weights = Weights(seed_of(name, "weights"), dtype)
    count, width, moe = ffn["moe_num_experts"], ffn["ffn_hidden_size"], {}
    for layer in range(cfg["n_layers"]):
        prefix = f"transformer.blocks.{layer}."
        weights.norm(prefix + "norm_attn_norm.norm_1.weight")
        weights.norm(prefix + "norm_attn_norm.norm_2.weight")
        router = weights.linear(prefix + "ffn.router.layer.weight", count, HIDDEN)
        # Each expert's slice [h, d] as nn.Linear(d, h).weight for w1 and v1; w2's slice is [h, d] too (used as x @ w2).
        w1 = weights.linear(prefix + "ffn.experts.mlp.w1", count * width, HIDDEN)
        v1 = weights.linear(prefix + "ffn.experts.mlp.v1", count * width, HIDDEN)
        w2 = weights.linear(prefix + "ffn.experts.mlp.w2", count * width, HIDDEN, fan_in=width)
        moe[layer] = dbrx_ffn(router, w1, v1, w2, ffn)
    return Fixture(name, cfg, weights.stored, moe, [], dtype, "dbrx_flat", SOURCES,
                   layer_prefix="transformer.blocks.", norms=NORMS)


FIXTURES = [Recipe("dbrx", lambda: build("dbrx", torch.bfloat16))]
