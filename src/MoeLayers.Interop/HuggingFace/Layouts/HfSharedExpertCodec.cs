using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The shared experts of a block as one MLP of width n_shared × width, nn.Linear [out, in] per projection:
    /// {prefix}{gate}.weight, {prefix}{up}.weight, {prefix}{down}.weight, and optionally the shared-expert gate [1, d]
    /// (Qwen's shared_expert_gate.weight) ↔ shared_experts.w_gate / w_in [d, n·w], w_out [n·w, d], gate.
    /// </summary>
    /// <param name="Prefix">Block-relative prefix ("shared_expert.", "shared_experts.").</param>
    /// <param name="Gate">The gate projection's name, or null for ungated shared experts.</param>
    /// <param name="Up">The up projection's name.</param>
    /// <param name="Down">The down projection's name.</param>
    /// <param name="OutputGate">Block-relative key of the sigmoid output gate [1, d], or null.</param>
    internal sealed record HfSharedExpertCodec(string Prefix, string? Gate = "gate_proj", string Up = "up_proj", string Down = "down_proj", string? OutputGate = null)
    {
        /// <summary>Every tensor, block-relative, with its published shape.</summary>
        public IEnumerable<(string Key, long[] Shape)> Shapes(HfMoeConfig c)
        {
            long d = c.HiddenSize, width = (long)c.SharedExperts * c.SharedWidth;
            if (Gate is not null) yield return ($"{Prefix}{Gate}.weight", new[] { width, d });
            yield return ($"{Prefix}{Up}.weight", new[] { width, d });
            yield return ($"{Prefix}{Down}.weight", new[] { d, width });
            if (c.SharedExpertGate) yield return (OutputGate ?? throw new InvalidOperationException("The family has no shared-expert gate."), new[] { 1L, d });
        }

        /// <summary>Adds shared_experts.* entries from the block's tensors.</summary>
        public void Decode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> state)
        {
            if (Gate is not null) state["shared_experts.w_gate"] = get($"{Prefix}{Gate}.weight").t().contiguous();
            state["shared_experts.w_in"] = get($"{Prefix}{Up}.weight").t().contiguous();
            state["shared_experts.w_out"] = get($"{Prefix}{Down}.weight").t().contiguous();
            if (c.SharedExpertGate) state["shared_experts.gate"] = get(OutputGate!);
        }

        /// <summary>Adds the block's shared-expert tensors from shared_experts.* entries.</summary>
        public void Encode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> block)
        {
            if (Gate is not null) block[$"{Prefix}{Gate}.weight"] = get("shared_experts.w_gate").t().contiguous();
            block[$"{Prefix}{Up}.weight"] = get("shared_experts.w_in").t().contiguous();
            block[$"{Prefix}{Down}.weight"] = get("shared_experts.w_out").t().contiguous();
            if (c.SharedExpertGate) block[OutputGate!] = get("shared_experts.gate");
        }
    }
}
