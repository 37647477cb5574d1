"""Granite MoE with a shared MLP: the Granite MoE block plus, beside it in the decoder layer, shared_mlp (width
shared_intermediate_size): input_linear [2w, d] whose first half is the gate, output_linear [d, w], its output added
unscaled to the block's. Published layout (BF16).

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/granitemoeshared/modular_granitemoeshared.py @ 01819372ec80f0dcd15733caa83db53d947d476b
    (GraniteMoeSharedMLP.forward: chunk(2, dim=-1), activation(chunk[0]) * chunk[1]; GraniteMoeSharedDecoderLayer:
    shared_mlp registered after the layer norms, moe_hidden_states + shared_mlp(hidden_states) on the same input)
  and the Granite MoE block as in granitemoe.py.
"""

import torch
import torch.nn.functional as F

from ..blocks import activation, every_layer
from ..common import HIDDEN, Fixture, Recipe, Weights, seed_of
from .granitemoe import SOURCES as GRANITE_SOURCES
from .granitemoe import config, granite_block, granite_weights

SOURCES = ["src/transformers/models/granitemoeshared/modular_granitemoeshared.py@01819372ec80f0dcd15733caa83db53d947d476b"] + GRANITE_SOURCES


def with_shared_mlp(block, input_linear, output_linear, act):
    """GraniteMoeSharedDecoderLayer's feed-forward: block(x) + shared_mlp(x)."""
    def forward(x):
        result = block(x)
        gate, up = F.linear(x, input_linear).chunk(2, dim=-1)
        return result._replace(output=result.output + F.linear(act(gate) * up, output_linear))
    return forward


def build(name, dtype):
    cfg = config("granitemoeshared", "GraniteMoeSharedForCausalLM", dtype, shared_intermediate_size=16)
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe, width = activation(cfg), {}, cfg["shared_intermediate_size"]
    for layer in every_layer(cfg):
        block = granite_block(*granite_weights(weights, layer, cfg), cfg["num_experts_per_tok"], act)
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
        shared_in = weights.linear(f"model.layers.{layer}.shared_mlp.input_linear.weight", 2 * width, HIDDEN)
        shared_out = weights.linear(f"model.layers.{layer}.shared_mlp.output_linear.weight", HIDDEN, width)
        moe[layer] = with_shared_mlp(block, shared_in, shared_out, act)
    return Fixture(name, cfg, weights.stored, moe, [], dtype, "fused", SOURCES)


FIXTURES = [Recipe("granitemoeshared", lambda: build("granitemoeshared", torch.bfloat16))]
