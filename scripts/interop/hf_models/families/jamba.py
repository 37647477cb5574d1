"""Jamba: softmax over E, top-k, NOT renormalized (the k softmax probabilities are the weights); SwiGLU experts of
width intermediate_size under feed_forward; layer i is MoE iff num_experts > 1 and i % expert_layer_period ==
expert_layer_offset, else a dense JambaMLP of the same width. Per-expert layout (as published on the Hub, BF16) and
transformers v5 fused layout.

Transcribed from github.com/huggingface/transformers:
  per expert: src/transformers/models/jamba/modeling_jamba.py @ 97bb61d0788015770945004a7db6285db68081c0
    (JambaSparseMoeBlock.forward: router_logits = self.router(x); softmax(dim=1, dtype=float); topk; cast back; no
    renormalization; experts JambaMLP = down_proj(act(gate_proj(x)) * up_proj(x)), registering gate_proj, up_proj,
    down_proj; the block registers router, then experts: Mixtral's block without the renormalization, so blocks.py's
    softmax_moe with norm_topk_prob False computes it. JambaAttentionDecoderLayer / JambaMambaDecoderLayer.__init__: num_experts =
    config.layers_num_experts[layer_idx]; feed_forward = JambaSparseMoeBlock if num_experts > 1 else JambaMLP;
    the layer keeps input_layernorm and pre_ff_layernorm)
  src/transformers/models/jamba/configuration_jamba.py @ 161d2bed0075063d3c6f605e370b87bd097ff2b4
    (layers_num_experts: num_experts if i % expert_layer_period == expert_layer_offset else 1;
    _check_supported_offset: expert_layer_offset < expert_layer_period)
  fused (v5): src/transformers/models/jamba/modular_jamba.py @ 72acce0ffc159e38edfe59f20c42ebd0c1dbb28a
    (JambaExperts(MixtralExperts); JambaSparseMoeBlock.route_tokens_to_experts: softmax in float, topk, no
    renormalization); src/transformers/conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6 ("jamba":
    feed_forward.experts.*.gate_proj/up_proj stacked and concatenated into feed_forward.experts.gate_up_proj,
    down_proj stacked into feed_forward.experts.down_proj)
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, fuse_experts, fused_softmax_moe, fused_tensors,
                      softmax_moe)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

PER_EXPERT_SOURCES = ["src/transformers/models/jamba/modeling_jamba.py@97bb61d0788015770945004a7db6285db68081c0",
                      "src/transformers/models/jamba/configuration_jamba.py@161d2bed0075063d3c6f605e370b87bd097ff2b4"]
FUSED_SOURCES = ["src/transformers/models/jamba/modular_jamba.py@72acce0ffc159e38edfe59f20c42ebd0c1dbb28a",
                 "src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
                 "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]
NORMS = ("input_layernorm", "pre_ff_layernorm")


def jamba_moe_layers(cfg):
    """JambaConfig.layers_num_experts + the decoder layers' `num_experts > 1` test."""
    return [i for i in range(cfg["num_hidden_layers"])
            if cfg["num_experts"] > 1 and i % cfg["expert_layer_period"] == cfg["expert_layer_offset"]]


def build(name, dtype, fused):
    experts_count, top_k = 8, 2
    # Jamba's experts and its dense MLPs are both JambaMLP(config): one width, intermediate_size.
    cfg = {"architectures": ["JambaForCausalLM"], "model_type": "jamba", "hidden_size": HIDDEN,
           "intermediate_size": EXPERT_WIDTH, "num_experts": experts_count, "num_experts_per_tok": top_k,
           "expert_layer_period": 2, "expert_layer_offset": 1, "attn_layer_period": 4, "attn_layer_offset": 2,
           "num_hidden_layers": 4, "hidden_act": "silu", "rms_norm_eps": 1e-6, "output_router_logits": False,
           "router_aux_loss_coef": 0.001, "use_mamba_kernels": False, **dtype_field(dtype, v5=fused)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe_layers, moe = activation(cfg), jamba_moe_layers(cfg), {}
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.feed_forward."
        if layer in moe_layers:
            router = weights.linear(prefix + "router.weight", experts_count, HIDDEN)
            experts = build_experts(weights, prefix, experts_count)
            moe[layer] = softmax_moe(router, experts, top_k, False, act)
        else:
            build_mlp(weights, prefix, cfg["intermediate_size"])
        # The decoder layer registers its mixer, feed_forward, input_layernorm, pre_ff_layernorm in that order.
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.pre_ff_layernorm.weight")
    stored = weights.stored
    if fused:
        for layer in moe_layers:
            prefix = f"model.layers.{layer}.feed_forward."
            stored = fuse_experts(stored, prefix, experts_count)
            v5 = fused_softmax_moe(stored[prefix + "router.weight"].float(), *fused_tensors(stored, prefix), top_k, False, act)
            moe[layer] = cross_checked(v5, moe[layer])
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, stored, moe, dense, dtype, "fused" if fused else "per_expert",
                   FUSED_SOURCES if fused else PER_EXPERT_SOURCES, norms=NORMS)


FIXTURES = [Recipe("jamba", lambda: build("jamba", torch.bfloat16, fused=False)),
            Recipe("jamba_fused", lambda: build("jamba_fused", torch.float32, fused=True))]
