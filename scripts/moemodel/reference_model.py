"""The whole causal-LM forward of the five MoE families samples/MoeModel runs, in plain torch (float32), transcribed
from Hugging Face transformers' modeling code (github.com/huggingface/transformers, file @ commit):

  qwen3_moe  src/transformers/models/qwen3_moe/modeling_qwen3_moe.py @ 16b6c53c8ec3a720bd45c1c377bf94e1d01249c5
             (Qwen3MoeRMSNorm; Qwen3MoeAttention: q_norm/k_norm = RMSNorm(head_dim) on each head after the projection,
             before RoPE, q/k/v/o bias = attention_bias; Qwen3MoeDecoderLayer: MoE iff layer not in mlp_only_layers and
             (layer + 1) % decoder_sparse_step == 0, else Qwen3MoeMLP(intermediate_size); Qwen3MoeModel;
             Qwen3MoeForCausalLM: lm_head, tied iff tie_word_embeddings)
  olmoe      src/transformers/models/olmoe/modular_olmoe.py @ 12e8d45900eea2958464541c99d598e8ddb2415e
             (OlmoeAttention(LlamaAttention): q_norm = RMSNorm(hidden_size) over the whole q projection, k_norm =
             RMSNorm(head_dim * num_key_value_heads) over the whole k projection, both before the heads are split;
             clip_qkv clamps q, k, v; o_proj bias = attention_bias; a sparse block in every layer)
  mixtral    src/transformers/models/mixtral/modular_mixtral.py @ 008f5c8c29be84d4721dc6d1e0fcd72300580be4
             (MixtralAttention: no biases, no QK norm; a sliding-window mask on every layer iff sliding_window is set;
             block_sparse_moe in every layer)
  gpt_oss    src/transformers/models/gpt_oss/modular_gpt_oss.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86
             (GptOssRMSNorm: (weight * x) cast back, not weight * x.to(dtype); GptOssRotaryEmbedding: cos/sin of the
             half-width frequencies times attention_scaling, applied as (x1·cos − x2·sin, x2·cos + x1·sin), which is
             rotate_half on the doubled table; eager_attention_forward with the learned per-head sinks appended as an
             extra logit column, max-subtracted, softmaxed and dropped; q/k/v/o bias = attention_bias;
             layer_types[i] == "sliding_attention" masks keys older than sliding_window; GptOssMLP in every layer)
             and the YaRN inverse frequencies of src/transformers/modeling_rope_utils.py's _compute_yarn_parameters
             (the form with rope_scaling.truncate, transformers 4.55 and later; attention_factor 0.1·ln(factor) + 1)
  glm4_moe   src/transformers/models/glm4_moe/modeling_glm4_moe.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6
             (Glm4MoeRotaryEmbedding: dim = head_dim * partial_rotary_factor; apply_rotary_pos_emb rotates the first
             rotary_dim channels with rotate_half (halves, not interleaved pairs) and passes the rest; Glm4MoeAttention:
             q/k/v bias = attention_bias, o_proj without bias, use_qk_norm: RMSNorm(head_dim) per head;
             Glm4MoeDecoderLayer: MoE iff layer >= first_k_dense_replace)

Shared by all (LlamaModel's shape): h = embed_tokens[ids]; per layer h += attn(input_layernorm(h)),
h += mlp(post_attention_layernorm(h)); logits = lm_head(norm(h)). RMSNorm: x·rsqrt(mean(x²) + eps) in float32, times
weight (every family computes in float32 and casts back: the same numbers when the model runs in float32, as here).
Attention: GQA (repeat_kv), scaling head_dim^-0.5, causal mask, softmax in float32; default RoPE
inv_freq = 1 / theta^(arange(0, dim, 2) / dim), cos/sin of cat(freqs, freqs), x·cos + rotate_half(x)·sin.

The MoE blocks are scripts/interop's transcriptions (make_hf_fixtures.softmax_topk_block for Qwen3-MoE, OLMoE and
Mixtral; deepseek_v3_router + deepseek_v3_moe for GLM-4.5's Glm4MoeMoE; hf_models.families.gpt_oss for gpt-oss).
"""

import math

import torch
import torch.nn.functional as F

from make_hf_fixtures import deepseek_v3_moe, deepseek_v3_router, softmax_topk_block, swiglu_mlp
from hf_models.families.gpt_oss import gpt_oss_experts, gpt_oss_router

FAMILIES = ("qwen3_moe", "olmoe", "mixtral", "gpt_oss", "glm4_moe")


def rms_norm(x, weight, eps):
    variance = x.float().pow(2).mean(-1, keepdim=True)
    return weight * (x.float() * torch.rsqrt(variance + eps))


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def rotary_dim(cfg):
    return int(head_dim(cfg) * cfg.get("partial_rotary_factor", 1.0))


def inverse_frequencies(cfg):
    """(inv_freq [dim/2], attention_scaling): default RoPE, or YaRN when rope_scaling says so."""
    base, dim = cfg["rope_theta"], rotary_dim(cfg)
    scaling = cfg.get("rope_scaling")
    kind = (scaling or {}).get("rope_type", (scaling or {}).get("type", "default"))
    if kind == "default":
        return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), 1.0
    if kind != "yarn":
        raise ValueError(f"rope_type {kind} is not transcribed")
    factor = scaling["factor"]
    attention_factor = scaling.get("attention_factor")
    original = scaling.get("original_max_position_embeddings") or cfg["max_position_embeddings"]
    if attention_factor is None:
        attention_factor = 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0
    beta_fast = scaling.get("beta_fast") or 32
    beta_slow = scaling.get("beta_slow") or 1

    def correction_dim(rotations):
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(beta_fast), correction_dim(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
    extrapolation, interpolation = 1.0 / pos_freqs, 1.0 / (factor * pos_freqs)
    extrapolation_factor = 1 - ramp
    return interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor, attention_factor


def rotary_tables(cfg, positions):
    """cos, sin [T, rotary_dim] for the positions (float32, the doubled table)."""
    inv_freq, scaling = inverse_frequencies(cfg)
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos() * scaling, emb.sin() * scaling


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x, cos, sin):
    """x [B, H, T, head_dim]: the first rotary_dim channels rotated, the rest passed (GLM-4.5's partial rotary)."""
    rot = cos.shape[-1]
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    return torch.cat((x_rot * cos + rotate_half(x_rot) * sin, x_pass), dim=-1)


class Features:
    """What a family's attention and layers are made of, read from config.json as transformers reads it."""

    def __init__(self, cfg):
        family = cfg["model_type"]
        self.family = family
        self.bias_qkv = family in ("qwen3_moe", "olmoe", "gpt_oss", "glm4_moe") and cfg.get("attention_bias", family == "gpt_oss")
        self.bias_o = family in ("qwen3_moe", "olmoe", "gpt_oss") and self.bias_qkv
        self.qk_norm = {"qwen3_moe": "head", "olmoe": "projection", "glm4_moe": "head" if cfg.get("use_qk_norm") else None}.get(family)
        self.sinks = family == "gpt_oss"
        layers = cfg["num_hidden_layers"]
        if family == "gpt_oss":
            types = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(layers)]
            self.window = [cfg["sliding_window"] if t == "sliding_attention" else None for t in types]
        elif family == "mixtral":
            self.window = [cfg.get("sliding_window")] * layers
        else:
            self.window = [None] * layers
        self.moe_layers = moe_layers(cfg)


def moe_layers(cfg):
    layers, family = cfg["num_hidden_layers"], cfg["model_type"]
    if family == "qwen3_moe":
        return [i for i in range(layers) if i not in cfg.get("mlp_only_layers", [])
                and cfg["num_experts"] > 0 and (i + 1) % cfg.get("decoder_sparse_step", 1) == 0]
    if family == "glm4_moe":
        return [i for i in range(layers) if i >= cfg.get("first_k_dense_replace", 1)]
    return list(range(layers))


def topk_margin(scores, k):
    """Smallest gap between the k-th and (k+1)-th score of any row: how far a routing is from a tie."""
    top = torch.topk(scores, k + 1, dim=-1)[0]
    return float((top[:, k - 1] - top[:, k]).min())


class ReferenceModel:
    """The float32 forward of a model folder's weights (w: key -> float32 tensor, the stored values upcast)."""

    def __init__(self, cfg, w):
        self.cfg, self.w, self.f = cfg, w, Features(cfg)
        self.margins = []  # routing margins of every MoE forward (min is what matters)

    def attention(self, layer, x, positions, cache):
        cfg, w, f = self.cfg, self.w, self.f
        p = f"model.layers.{layer}.self_attn."
        B, T, _ = x.shape
        heads, kv_heads, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg)
        q = F.linear(x, w[p + "q_proj.weight"], w.get(p + "q_proj.bias"))
        k = F.linear(x, w[p + "k_proj.weight"], w.get(p + "k_proj.bias"))
        v = F.linear(x, w[p + "v_proj.weight"], w.get(p + "v_proj.bias"))
        eps = cfg["rms_norm_eps"]
        if f.qk_norm == "projection":
            q, k = rms_norm(q, w[p + "q_norm.weight"], eps), rms_norm(k, w[p + "k_norm.weight"], eps)
            if cfg.get("clip_qkv") is not None:
                c = cfg["clip_qkv"]
                q, k, v = q.clamp(-c, c), k.clamp(-c, c), v.clamp(-c, c)
        q, k, v = (t.view(B, T, -1, hd) for t in (q, k, v))
        if f.qk_norm == "head":
            q, k = rms_norm(q, w[p + "q_norm.weight"], eps), rms_norm(k, w[p + "k_norm.weight"], eps)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        cos, sin = rotary_tables(cfg, positions)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            if layer in cache:
                k = torch.cat((cache[layer][0], k), dim=2)
                v = torch.cat((cache[layer][1], v), dim=2)
            cache[layer] = (k, v)
        groups = heads // kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5
        key_positions = torch.arange(k.shape[2])
        allowed = key_positions[None, :] <= positions[:, None]
        if f.window[layer] is not None:
            allowed &= key_positions[None, :] > positions[:, None] - f.window[layer]
        scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
        if f.sinks:
            sinks = w[p + "sinks"].reshape(1, -1, 1, 1).expand(B, -1, T, -1)
            combined = torch.cat([scores, sinks], dim=-1)
            combined = combined - combined.max(dim=-1, keepdim=True).values
            probs = F.softmax(combined, dim=-1, dtype=torch.float32)[..., :-1]
        else:
            probs = F.softmax(scores, dim=-1, dtype=torch.float32)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, heads * hd)
        return F.linear(out, w[p + "o_proj.weight"], w.get(p + "o_proj.bias"))

    def mlp(self, layer, x):
        cfg, w = self.cfg, self.w
        B, T, d = x.shape
        flat = x.reshape(-1, d)
        family = cfg["model_type"]
        if layer not in self.f.moe_layers:
            p = f"model.layers.{layer}.mlp."
            return swiglu_mlp(flat, w[p + "gate_proj.weight"], w[p + "up_proj.weight"], w[p + "down_proj.weight"], F.silu).view(B, T, d)
        if family == "mixtral":
            p, names = f"model.layers.{layer}.block_sparse_moe.", ("w1", "w3", "w2")
        else:
            p, names = f"model.layers.{layer}.mlp.", ("gate_proj", "up_proj", "down_proj")
        if family in ("qwen3_moe", "olmoe", "mixtral"):
            E, k = cfg["num_local_experts" if family == "mixtral" else "num_experts"], cfg["num_experts_per_tok"]
            experts = [tuple(w[f"{p}experts.{e}.{n}.weight"] for n in names) for e in range(E)]
            norm = True if family == "mixtral" else cfg.get("norm_topk_prob", family == "qwen3_moe")
            out, logits, _, _ = softmax_topk_block(flat, w[p + "gate.weight"], experts, k, norm, F.silu)
            self.margins.append(topk_margin(F.softmax(logits, dim=1, dtype=torch.float), k))
        elif family == "glm4_moe":
            E = cfg["n_routed_experts"]
            experts = [tuple(w[f"{p}experts.{e}.{n}.weight"] for n in names) for e in range(E)]
            logits, idx, weights, choice, _ = deepseek_v3_router(flat, w[p + "gate.weight"], w[p + "gate.e_score_correction_bias"], cfg)
            out = deepseek_v3_moe(flat, idx, weights, experts, F.silu)
            s = f"{p}shared_experts."
            out = out + swiglu_mlp(flat, w[s + "gate_proj.weight"], w[s + "up_proj.weight"], w[s + "down_proj.weight"], F.silu)
            self.margins.append(topk_margin(choice, cfg["num_experts_per_tok"]))
        else:  # gpt_oss
            k = cfg["num_experts_per_tok"]
            logits, scores, indices = gpt_oss_router(flat, w[p + "router.weight"], w[p + "router.bias"], k)
            out = gpt_oss_experts(flat, indices, scores, w[p + "experts.gate_up_proj"], w[p + "experts.gate_up_proj_bias"],
                                  w[p + "experts.down_proj"], w[p + "experts.down_proj_bias"], w[p + "router.weight"].shape[0])
            self.margins.append(topk_margin(logits, k))
        return out.view(B, T, d)

    def forward(self, ids, cache=None, start=0, last_only=False):
        """ids [B, T] -> logits [B, T, V] float32; with a cache (dict layer -> (k, v)), positions start at `start`;
        last_only: the head on the last position alone ([B, 1, V]), as transformers' generate asks (logits_to_keep=1)."""
        cfg, w = self.cfg, self.w
        eps = cfg["rms_norm_eps"]
        h = w["model.embed_tokens.weight"][ids]
        positions = torch.arange(start, start + ids.shape[1])
        for layer in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{layer}."
            h = h + self.attention(layer, rms_norm(h, w[p + "input_layernorm.weight"], eps), positions, cache)
            h = h + self.mlp(layer, rms_norm(h, w[p + "post_attention_layernorm.weight"], eps))
        if last_only:
            h = h[:, -1:]
        h = rms_norm(h, w["model.norm.weight"], eps)
        head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
        return F.linear(h, head)

    def greedy(self, ids, steps, use_cache):
        """steps tokens chosen by argmax of the last position's logits; returns (tokens, smallest top-1 vs top-2 gap)."""
        tokens, gaps = [], []
        if use_cache:
            cache = {}
            logits = self.forward(ids, cache, 0)
            position = ids.shape[1]
            for _ in range(steps):
                last = logits[0, -1]
                top = torch.topk(last, 2)[0]
                gaps.append(float(top[0] - top[1]))
                token = int(torch.argmax(last))
                tokens.append(token)
                logits = self.forward(torch.tensor([[token]]), cache, position)
                position += 1
        else:
            sequence = ids
            for _ in range(steps):
                last = self.forward(sequence)[0, -1]
                top = torch.topk(last, 2)[0]
                gaps.append(float(top[0] - top[1]))
                token = int(torch.argmax(last))
                tokens.append(token)
                sequence = torch.cat((sequence, torch.tensor([[token]])), dim=1)
        return tokens, min(gaps)
