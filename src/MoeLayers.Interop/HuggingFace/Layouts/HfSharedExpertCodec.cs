using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The shared experts of a block as one MLP of width n_shared × width, nn.Linear [out, in] per projection:
    /// {prefix}{gate}.weight, {prefix}{up}.weight, {prefix}{down}.weight — or gate and up fused in one
    /// {prefix}{gateUp}.weight [2·n·w, d] with the gate rows first (Granite's shared_mlp.input_linear) — and optionally the
    /// shared-expert gate [1, d] (Qwen's shared_expert_gate.weight) ↔ shared_experts.w_gate / w_in [d, n·w], w_out [n·w, d],
    /// gate.
    /// </summary>
    /// <param name="Prefix">Block-relative prefix ("shared_expert.", "shared_experts.").</param>
    /// <param name="Gate">The gate projection's name, or null for ungated shared experts or a fused <paramref name="GateUp"/>.</param>
    /// <param name="Up">The up projection's name, or null with a fused <paramref name="GateUp"/>.</param>
    /// <param name="Down">The down projection's name.</param>
    /// <param name="OutputGate">Block-relative key of the sigmoid output gate [1, d], or null.</param>
    /// <param name="GateUp">The fused gate/up projection's name (gate rows first), replacing <paramref name="Gate"/> and <paramref name="Up"/>, or null.</param>
    internal sealed record HfSharedExpertCodec(string Prefix, string? Gate = "gate_proj", string? Up = "up_proj", string Down = "down_proj",
        string? OutputGate = null, string? GateUp = null)
    {
        /// <summary>Every tensor, block-relative, with its published shape.</summary>
        public IEnumerable<(string Key, long[] Shape)> Shapes(HfMoeConfig c)
        {
            long d = c.HiddenSize, width = (long)c.SharedExperts * c.SharedWidth;
            if (GateUp is not null) yield return (Key(GateUp), new[] { 2 * width, d });
            if (Gate is not null) yield return (Key(Gate), new[] { width, d });
            if (Up is not null) yield return (Key(Up), new[] { width, d });
            yield return (Key(Down), new[] { d, width });
            if (c.SharedExpertGate) yield return (OutputGate ?? throw new InvalidOperationException("The family has no shared-expert gate."), new[] { 1L, d });
        }

        /// <summary>Adds shared_experts.* entries from the block's tensors.</summary>
        public void Decode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> state)
        {
            if (GateUp is not null)
            {
                var fused = get(Key(GateUp)).t(); // [d, 2·n·w]
                var width = fused.shape[1] / 2;
                state["shared_experts.w_gate"] = fused.narrow(1, 0, width).contiguous();
                state["shared_experts.w_in"] = fused.narrow(1, width, width).contiguous();
            }
            if (Gate is not null) state["shared_experts.w_gate"] = get(Key(Gate)).t().contiguous();
            if (Up is not null) state["shared_experts.w_in"] = get(Key(Up)).t().contiguous();
            state["shared_experts.w_out"] = get(Key(Down)).t().contiguous();
            if (c.SharedExpertGate) state["shared_experts.gate"] = get(OutputGate!);
        }

        /// <summary>Adds the block's shared-expert tensors from shared_experts.* entries.</summary>
        public void Encode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> block)
        {
            if (GateUp is not null) block[Key(GateUp)] = cat(new[] { get("shared_experts.w_gate"), get("shared_experts.w_in") }, 1).t().contiguous();
            if (Gate is not null) block[Key(Gate)] = get("shared_experts.w_gate").t().contiguous();
            if (Up is not null) block[Key(Up)] = get("shared_experts.w_in").t().contiguous();
            block[Key(Down)] = get("shared_experts.w_out").t().contiguous();
            if (c.SharedExpertGate) block[OutputGate!] = get("shared_experts.gate");
        }

        private string Key(string projection) => $"{Prefix}{projection}.weight";
    }
}
