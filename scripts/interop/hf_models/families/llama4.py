"""Llama 4: the top k of the router logits; each chosen expert runs on the token scaled by sigmoid(its logit) (the others
on the token scaled by sigmoid(-inf) = 0), the experts' outputs are summed unweighted, and the shared expert's output
on the unscaled token is added. Experts input-major: feed_forward.experts.gate_up_proj [E, d, 2h] (gate = first h
columns, up = last h), feed_forward.experts.down_proj [E, h, d]; router feed_forward.router.weight [E, d]; shared
expert feed_forward.shared_expert.gate_proj/up_proj/down_proj (SwiGLU, width intermediate_size). Layer i is MoE iff
i in moe_layers, which defaults to range(interleave_moe_layer_step - 1, num_hidden_layers, interleave_moe_layer_step);
other layers hold a dense Llama4TextMLP of width intermediate_size_mlp under feed_forward. The Hub checkpoints are
Llama4ForConditionalGeneration (config model_type llama4 with text_config; layers at language_model.model.layers.{i});
Llama4ForCausalLM saves the text model alone (model_type llama4_text; layers at model.layers.{i}). BF16 as published.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/llama4/modeling_llama4.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6
    (Llama4Router.forward: logits, topk, scatter into -inf, sigmoid in float; Llama4TextMoe.forward: repeat the tokens
    E times, scale by the scores, Llama4TextExperts.forward (bmm, chunk(2, dim=-1): gate first, up * act(gate), bmm),
    sum over experts, add shared_expert(x); Llama4TextMoe registers experts (gate_up_proj, down_proj), router,
    shared_expert; Llama4TextDecoderLayer: feed_forward = Llama4TextMoe iff layer_idx in config.moe_layers, else
    Llama4TextMLP(intermediate_size_mlp), then input_layernorm, post_attention_layernorm;
    Llama4ForConditionalGeneration.language_model = Llama4ForCausalLM, whose model is Llama4TextModel)
  src/transformers/models/llama4/configuration_llama4.py @ 008e574391258935f3ecc3035c882e73bbcac419
    (Llama4TextConfig.__post_init__: moe_layers from interleave_moe_layer_step when None)
"""

import torch
import torch.nn.functional as F

from ..blocks import activation, build_mlp, shared_expert_output
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/llama4/modeling_llama4.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
           "src/transformers/models/llama4/configuration_llama4.py@008e574391258935f3ecc3035c882e73bbcac419"]


def llama4_moe_layers(cfg):
    """Llama4TextConfig.__post_init__ + Llama4TextDecoderLayer's `layer_idx in config.moe_layers`."""
    if cfg.get("moe_layers") is not None:
        return [i for i in range(cfg["num_hidden_layers"]) if i in cfg["moe_layers"]]
    step = cfg["interleave_moe_layer_step"]
    return list(range(step - 1, cfg["num_hidden_layers"], step))


def llama4_moe(router, gate_up_proj, down_proj, shared, top_k, act):
    """Llama4TextMoe.forward with Llama4Router and Llama4TextExperts, on x [T, d] float32."""
    def forward(x):
        hidden_dim = x.shape[-1]
        hidden_states = x.reshape(-1, hidden_dim)
        router_logits = F.linear(hidden_states, router)
        router_top_value, router_indices = torch.topk(router_logits, top_k, dim=1)
        router_scores = torch.full_like(router_logits, float("-inf")).scatter_(1, router_indices, router_top_value)
        router_scores = torch.sigmoid(router_scores.float()).to(router_scores.dtype)
        routed_in = hidden_states.repeat(router_scores.shape[1], 1)
        routed_in = routed_in * router_scores.transpose(0, 1).reshape(-1, 1)
        # Llama4TextExperts.forward
        states = routed_in.view(gate_up_proj.shape[0], -1, hidden_dim)
        gate_up = torch.bmm(states, gate_up_proj)
        gate, up = gate_up.chunk(2, dim=-1)
        routed_out = torch.bmm(up * act(gate), down_proj).view(-1, hidden_dim)
        out = shared_expert_output(hidden_states, shared, act)
        out = out + routed_out.reshape(router_scores.shape[1], -1, routed_out.shape[-1]).sum(dim=0)
        # MoeLayers chooses by sigmoid(logit): keep the kept/dropped gap in that space (sigmoid's slope is at most 1/4).
        probs = torch.sigmoid(router_logits)
        top = torch.topk(probs, top_k + 1, dim=-1)[0]
        margin = float((top[:, top_k - 1] - top[:, top_k]).min())
        return LayerResult(out, router_logits, router_indices, torch.sigmoid(router_top_value), margin)
    return forward


def build(name, text_only, experts_count, top_k, schedule):
    dtype = torch.bfloat16
    text = {"model_type": "llama4_text", "hidden_size": HIDDEN, "intermediate_size": EXPERT_WIDTH,
            "intermediate_size_mlp": 32, "num_local_experts": experts_count, "num_experts_per_tok": top_k,
            "hidden_act": "silu", "rms_norm_eps": 1e-5, "router_aux_loss_coef": 0.001, "router_jitter_noise": 0.0,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "use_qk_norm": True, **schedule,
            **dtype_field(dtype, v5=False)}
    if text_only:
        cfg = {"architectures": ["Llama4ForCausalLM"], **text}
        layers = "model.layers."
    else:
        cfg = {"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4", "text_config": text,
               "vision_config": {"model_type": "llama4_vision_model", "hidden_size": 16, "num_hidden_layers": 1},
               "tie_word_embeddings": False, **dtype_field(dtype, v5=False)}
        layers = "language_model.model.layers."
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe_layers, moe = activation(text), llama4_moe_layers(text), {}
    for layer in range(text["num_hidden_layers"]):
        prefix = f"{layers}{layer}.feed_forward."
        if layer in moe_layers:
            h = text["intermediate_size"]
            gate_up_proj = weights.parameter(prefix + "experts.gate_up_proj", (experts_count, HIDDEN, 2 * h), fan_in=HIDDEN)
            down_proj = weights.parameter(prefix + "experts.down_proj", (experts_count, h, HIDDEN), fan_in=h)
            router = weights.linear(prefix + "router.weight", experts_count, HIDDEN)
            shared = build_mlp(weights, prefix + "shared_expert.", h)
            moe[layer] = llama4_moe(router, gate_up_proj, down_proj, (shared, None), top_k, act)
        else:
            build_mlp(weights, prefix, text["intermediate_size_mlp"])
        weights.norm(f"{layers}{layer}.input_layernorm.weight")
        weights.norm(f"{layers}{layer}.post_attention_layernorm.weight")
    dense = [l for l in range(text["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, weights.stored, moe, dense, dtype, "fused", SOURCES, layer_prefix=layers)


FIXTURES = [
    # Maverick's schedule (dense and MoE layers alternating), Scout's and Maverick's k = 1.
    Recipe("llama4", lambda: build("llama4", text_only=False, experts_count=8, top_k=1,
                                   schedule={"num_hidden_layers": 4, "interleave_moe_layer_step": 2})),
    # The text model saved alone, an explicit moe_layers list and k = 2 (the weights still scale the inputs).
    Recipe("llama4_text_top2", lambda: build("llama4_text_top2", text_only=True, experts_count=8, top_k=2,
                                             schedule={"num_hidden_layers": 3, "moe_layers": [0, 2],
                                                       "interleave_moe_layer_step": 1})),
]
