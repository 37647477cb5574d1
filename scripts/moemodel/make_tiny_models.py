#!/usr/bin/env python3
"""Tiny random Hugging Face MoE model folders and their reference outputs, for samples/MoeModel's parity tests.

For each family (qwen3_moe, olmoe, mixtral, gpt_oss, glm4_moe) this writes

  tests/fixtures/moe-models/<name>/               config.json (the fields transformers reads, as the family publishes
                                                  them), generation_config.json, the weights under their published
                                                  names (model.safetensors, or shards + model.safetensors.index.json)
  tests/fixtures/moe-models/references/<name>.safetensors
                                                  input_ids I64 [1, 64] (a fixed prompt), logits F32 [1, 64, 512]
                                                  (the float32 forward of the stored weights, upcast),
                                                  generated_ids I64 [1, 32] (greedy, with a KV cache) and
                                                  generated_ids_no_cache I64 [1, 32] (greedy, recomputing the whole
                                                  sequence each step; asserted equal to generated_ids)

The forward is reference_model.py (each family's causal LM transcribed from transformers; file @ commit there). The
prompt is resampled until every routing choice of every forward (prompt, each greedy step, both ways) is at least
MIN_MARGIN from a tie and every greedy step's top logit leads the next by MIN_MARGIN, so any float32 implementation
chooses the same experts and tokens. Deterministic: seeds come from the folder names. No tokenizer files are written
here (tests/fixtures/moe-models/tokenizers/ is the tokenizer script's).

Usage (/usr/bin/python3 with Debian's python3-torch 1.13; no transformers or safetensors package):
  make_tiny_models.py [--out tests/fixtures/moe-models] [--only NAME ...]
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.join(os.path.dirname(HERE), "interop")
for path in (HERE, INTEROP):
    if path not in sys.path:
        sys.path.insert(0, path)

import torch  # noqa: E402

import make_hf_fixtures  # noqa: E402
from hf_models.common import INDEX_FILE, Sharding, Weights, seed_of, write_json, write_weights  # noqa: E402
from reference_model import ReferenceModel, moe_layers  # noqa: E402

# The reference file keeps token ids as I64; make_hf_fixtures' writer knows the float dtypes, so teach it this one
# (8-byte alignment: first in the reference writer's order).
make_hf_fixtures.NAMES.setdefault(torch.int64, "I64")
make_hf_fixtures.WRITE_RANK.setdefault("I64", -1)

VOCAB = 512
PROMPT = 64
GENERATED = 32
MIN_MARGIN = 2e-4
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures", "moe-models")


def dtype_name(dtype):
    return {torch.float32: "float32", torch.bfloat16: "bfloat16"}[dtype]


class Builder:
    """Weights under the published keys in registration order; every method returns the float32 values the forward uses."""

    def __init__(self, name, cfg, dtype):
        self.cfg, self.w = cfg, {}
        self.weights = Weights(seed_of(name, "weights"), dtype)
        self.d = cfg["hidden_size"]

    def linear(self, key, out_features, in_features, bias_std=None):
        self.w[key + ".weight"] = self.weights.linear(key + ".weight", out_features, in_features)
        if bias_std is not None:
            self.w[key + ".bias"] = self.weights.buffer(key + ".bias", (out_features,), bias_std, self.weights.dtype)

    def norm(self, key, width):
        self.w[key] = self.weights.norm(key, width)

    def tensor(self, key, shape, std):
        self.w[key] = self.weights.buffer(key, shape, std, self.weights.dtype)

    def mlp(self, prefix, width, names=("gate_proj", "up_proj", "down_proj"), order=(0, 1, 2)):
        shapes = [(width, self.d), (width, self.d), (self.d, width)]
        for i in order:
            self.linear(prefix + names[i], *shapes[i])


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def attention(b, layer, bias_qkv, bias_o, qk_norm, sinks):
    cfg, d = b.cfg, b.d
    p = f"model.layers.{layer}.self_attn."
    hd, heads, kv = head_dim(cfg), cfg["num_attention_heads"], cfg["num_key_value_heads"]
    b.linear(p + "q_proj", heads * hd, d, 0.1 if bias_qkv else None)
    b.linear(p + "k_proj", kv * hd, d, 0.1 if bias_qkv else None)
    b.linear(p + "v_proj", kv * hd, d, 0.1 if bias_qkv else None)
    b.linear(p + "o_proj", d, heads * hd, 0.1 if bias_o else None)
    if qk_norm == "head":
        b.norm(p + "q_norm.weight", hd)
        b.norm(p + "k_norm.weight", hd)
    elif qk_norm == "projection":
        b.norm(p + "q_norm.weight", heads * hd)
        b.norm(p + "k_norm.weight", kv * hd)
    if sinks:
        b.tensor(p + "sinks", (heads,), 0.5)


def moe_block(b, layer):
    cfg, d, family = b.cfg, b.d, b.cfg["model_type"]
    if family == "mixtral":
        p = f"model.layers.{layer}.block_sparse_moe."
        b.linear(p + "gate", cfg["num_local_experts"], d)
        for e in range(cfg["num_local_experts"]):  # MixtralBlockSparseTop2MLP registers w1, w2, w3
            b.mlp(f"{p}experts.{e}.", cfg["intermediate_size"], ("w1", "w3", "w2"), order=(0, 2, 1))
    elif family in ("qwen3_moe", "olmoe"):
        p = f"model.layers.{layer}.mlp."
        width = cfg["moe_intermediate_size"] if family == "qwen3_moe" else cfg["intermediate_size"]
        b.linear(p + "gate", cfg["num_experts"], d)
        for e in range(cfg["num_experts"]):
            b.mlp(f"{p}experts.{e}.", width)
    elif family == "glm4_moe":
        p = f"model.layers.{layer}.mlp."
        for e in range(cfg["n_routed_experts"]):
            b.mlp(f"{p}experts.{e}.", cfg["moe_intermediate_size"])
        b.linear(p + "gate", cfg["n_routed_experts"], d)
        b.w[p + "gate.e_score_correction_bias"] = b.weights.buffer(p + "gate.e_score_correction_bias",
                                                                   (cfg["n_routed_experts"],), 0.05, torch.float32)
        b.mlp(p + "shared_experts.", cfg["moe_intermediate_size"] * cfg["n_shared_experts"])
    else:  # gpt_oss: GptOssMLP registers router (weight, bias), then the experts
        p = f"model.layers.{layer}.mlp."
        E, h = cfg["num_local_experts"], cfg["intermediate_size"]
        b.linear(p + "router", E, d, 0.5)
        b.tensor(p + "experts.gate_up_proj", (E, d, 2 * h), 2.0 / d ** 0.5)
        b.tensor(p + "experts.gate_up_proj_bias", (E, 2 * h), 0.5)
        b.tensor(p + "experts.down_proj", (E, h, d), 1.0 / h ** 0.5)
        b.tensor(p + "experts.down_proj_bias", (E, d), 0.1)


def build_weights(name, cfg, dtype, bias_qkv=False, bias_o=False, qk_norm=None, sinks=False):
    b = Builder(name, cfg, dtype)
    d, V = cfg["hidden_size"], cfg["vocab_size"]
    b.w["model.embed_tokens.weight"] = b.weights.parameter("model.embed_tokens.weight", (V, d), d)
    moe = moe_layers(cfg)
    for layer in range(cfg["num_hidden_layers"]):
        attention(b, layer, bias_qkv, bias_o, qk_norm, sinks)
        if layer in moe:
            moe_block(b, layer)
        else:
            b.mlp(f"model.layers.{layer}.mlp.", cfg["intermediate_size"])
        b.norm(f"model.layers.{layer}.input_layernorm.weight", d)
        b.norm(f"model.layers.{layer}.post_attention_layernorm.weight", d)
    b.norm("model.norm.weight", d)
    if not cfg.get("tie_word_embeddings", False):
        b.linear("lm_head", V, d)
    return b.weights.stored, b.w


# ------------------------------------------------------------------------------------------------------------------
# The five folders. Fields as each family's config.json on the Hub writes them; sizes tiny.
# ------------------------------------------------------------------------------------------------------------------

COMMON = {"vocab_size": VOCAB, "hidden_size": 32, "num_attention_heads": 4, "hidden_act": "silu", "initializer_range": 0.02,
          "attention_dropout": 0.0, "use_cache": True, "transformers_version": "4.56.0"}


def qwen3_moe():
    cfg = {**COMMON, "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "intermediate_size": 64,
           "moe_intermediate_size": 16, "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 16,
           "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": None,
           "attention_bias": False, "use_sliding_window": False, "sliding_window": None, "max_window_layers": 3,
           "decoder_sparse_step": 1, "mlp_only_layers": [0], "num_experts": 8, "num_experts_per_tok": 2,
           "norm_topk_prob": True, "output_router_logits": False, "router_aux_loss_coef": 0.001,
           "tie_word_embeddings": False, "bos_token_id": 496, "eos_token_id": 498, "torch_dtype": "float32"}
    generation = {"bos_token_id": 496, "eos_token_id": [498, 496], "pad_token_id": 496, "do_sample": True,
                  "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.56.0"}
    return cfg, generation, torch.float32, Sharding(), dict(qk_norm="head")


def olmoe():
    cfg = {**COMMON, "architectures": ["OlmoeForCausalLM"], "model_type": "olmoe", "intermediate_size": 16,
           "num_hidden_layers": 2, "num_key_value_heads": 4, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "rope_scaling": None, "attention_bias": False, "clip_qkv": None, "num_experts": 8,
           "num_experts_per_tok": 2, "norm_topk_prob": False, "output_router_logits": False,
           "router_aux_loss_coef": 0.01, "tie_word_embeddings": False, "bos_token_id": None, "eos_token_id": 496,
           "pad_token_id": 497, "torch_dtype": "float32"}
    generation = {"eos_token_id": 496, "pad_token_id": 497, "transformers_version": "4.56.0"}
    return cfg, generation, torch.float32, Sharding(new_shard_at_layers=(1,)), dict(qk_norm="projection")


def mixtral():
    cfg = {**COMMON, "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "intermediate_size": 32,
           "num_hidden_layers": 2, "num_key_value_heads": 2, "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
           "rope_theta": 1000000.0, "sliding_window": None, "num_local_experts": 4, "num_experts_per_tok": 2,
           "router_jitter_noise": 0.0, "output_router_logits": False, "router_aux_loss_coef": 0.02,
           "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"}
    generation = {"bos_token_id": 1, "eos_token_id": 2, "transformers_version": "4.56.0"}
    return cfg, generation, torch.bfloat16, Sharding(), {}


def gpt_oss():
    # max_position_embeddings = factor · original_max_position_embeddings, as published (131072 = 32 · 4096), so
    # the YaRN factor is the same whether a transformers version reads rope_scaling.factor or derives it.
    cfg = {**COMMON, "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss", "intermediate_size": 16,
           "num_hidden_layers": 2, "num_key_value_heads": 2, "head_dim": 16, "attention_bias": True,
           "sliding_window": 8, "layer_types": ["sliding_attention", "full_attention"],
           "max_position_embeddings": 131072, "initial_context_length": 4096, "rms_norm_eps": 1e-5,
           "rope_theta": 150000, "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0,
                                                   "beta_slow": 1.0, "truncate": False,
                                                   "original_max_position_embeddings": 4096},
           "num_local_experts": 4, "num_experts_per_tok": 2, "experts_per_token": 2, "swiglu_limit": 7.0,
           "output_router_logits": False, "router_aux_loss_coef": 0.9, "tie_word_embeddings": False,
           "eos_token_id": 501, "pad_token_id": 496, "torch_dtype": "float32"}
    generation = {"bos_token_id": 496, "eos_token_id": [501, 496, 503], "pad_token_id": 496, "do_sample": True,
                  "transformers_version": "4.56.0"}
    return cfg, generation, torch.float32, Sharding(new_shard_at_layers=(1,)), dict(bias_qkv=True, bias_o=True, sinks=True)


def glm4_moe():
    cfg = {**COMMON, "architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe", "intermediate_size": 64,
           "moe_intermediate_size": 16, "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 16,
           "partial_rotary_factor": 0.5, "attention_bias": True, "use_qk_norm": True, "max_position_embeddings": 131072,
           "rms_norm_eps": 1e-5, "rope_theta": 1000000.0, "rope_scaling": None, "n_routed_experts": 8,
           "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 1, "topk_group": 1,
           "routed_scaling_factor": 2.5, "norm_topk_prob": True, "first_k_dense_replace": 1,
           "num_nextn_predict_layers": 0, "tie_word_embeddings": False, "eos_token_id": [496, 503, 505],
           "pad_token_id": 496, "torch_dtype": "float32"}
    generation = {"eos_token_id": [496, 503, 505], "pad_token_id": 496, "transformers_version": "4.56.0"}
    return cfg, generation, torch.float32, Sharding(), dict(bias_qkv=True, qk_norm="head")


FOLDERS = {"qwen3_moe": qwen3_moe, "olmoe": olmoe, "mixtral": mixtral, "gpt_oss": gpt_oss, "glm4_moe": glm4_moe}


def prompt_tokens(name, attempt, family):
    generator = torch.Generator().manual_seed(seed_of(name, "prompt", attempt))
    low, high = (3, VOCAB) if family == "mixtral" else (0, 496)  # no special tokens in the prompt
    return torch.randint(low, high, (1, PROMPT), generator=generator)


def reference(name, cfg, used, tries=50):
    for attempt in range(tries):
        model = ReferenceModel(cfg, used)
        ids = prompt_tokens(name, attempt, cfg["model_type"])
        with torch.no_grad():
            logits = model.forward(ids)
            cached, gap_cached = model.greedy(ids, GENERATED, use_cache=True)
            uncached, gap_uncached = model.greedy(ids, GENERATED, use_cache=False)
        if cached != uncached:
            raise AssertionError(f"{name}: greedy tokens with and without the KV cache differ: {cached} vs {uncached}")
        margin, gap = min(model.margins), min(gap_cached, gap_uncached)
        if margin >= MIN_MARGIN and gap >= MIN_MARGIN:
            return ids, logits, torch.tensor([cached]), margin, gap, attempt
    raise RuntimeError(f"{name}: no prompt in {tries} tries keeps routing and greedy choices {MIN_MARGIN} from a tie")


def write(out, name):
    cfg, generation, dtype, sharding, features = FOLDERS[name]()
    stored, used = build_weights(name, cfg, dtype, **features)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        if old.endswith(".safetensors") or old == INDEX_FILE:
            os.remove(os.path.join(folder, old))
    write_json(os.path.join(folder, "config.json"), cfg)
    write_json(os.path.join(folder, "generation_config.json"), generation)
    files = write_weights(folder, stored, sharding)
    ids, logits, generated, margin, gap, attempt = reference(name, cfg, used)
    os.makedirs(os.path.join(out, "references"), exist_ok=True)
    metadata = {"family": cfg["model_type"], "dtype": dtype_name(dtype), "source": "scripts/moemodel/reference_model.py",
                "min_routing_margin": f"{margin:.3g}", "min_greedy_gap": f"{gap:.3g}", "prompt_attempt": str(attempt)}
    make_hf_fixtures.save_safetensors(os.path.join(out, "references", name + ".safetensors"),
                                      {"input_ids": ids, "logits": logits.float().contiguous(), "generated_ids": generated,
                                       "generated_ids_no_cache": generated.clone()}, metadata)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    return (f"{name:10s} {dtype_name(dtype):8s} {len(stored):4d} tensors in {len(files)} file(s), {size / 1024:.0f} KiB; "
            f"MoE layers {moe_layers(cfg)}; min routing margin {margin:.2g}, min greedy gap {gap:.2g}; "
            f"generated {generated[0].tolist()[:8]}...")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="*", choices=sorted(FOLDERS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.only or FOLDERS:
        print(write(args.out, name), flush=True)


if __name__ == "__main__":
    main()
