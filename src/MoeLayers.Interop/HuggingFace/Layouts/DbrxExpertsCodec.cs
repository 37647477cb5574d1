using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// DBRX's experts (DbrxExpertGLU): three 2-D tensors experts.mlp.w1 (gate), v1 (up) and w2 (down), each [E·h, d],
    /// expert e in rows e·h … (e+1)·h − 1. transformers views each as [E, h, d] and computes
    /// (silu(x·w1[e]ᵀ) ⊙ x·v1[e]ᵀ)·w2[e]: w1 and v1 are nn.Linear-style [out, in] slices, w2 is already [in, out] (no
    /// transpose). So w_gate = w1 viewed [E, h, d] transposed to [E, d, h], w_in likewise from v1, w_out = w2 viewed
    /// [E, h, d] as it is. Source: transformers src/transformers/models/dbrx/modeling_dbrx.py @
    /// 7c65d177a1df42590956c680055d79abc9aa3b7f (DbrxExpertGLU, DbrxExperts.forward).
    /// </summary>
    /// <param name="blockName">The block's name under the layer prefix ("ffn.").</param>
    internal sealed class DbrxExpertsCodec(string blockName) : HfExpertsCodec(HfExpertLayout.Flattened, blockName)
    {
        private const string Gate = "experts.mlp.w1";
        private const string Up = "experts.mlp.v1";
        private const string Down = "experts.mlp.w2";

        /// <inheritdoc />
        public override string ProbeKey => Gate;

        /// <inheritdoc />
        public override IEnumerable<(string Key, long[] Shape)> Shapes(HfMoeConfig c)
        {
            var rows = (long)c.NumExperts * c.ExpertWidth;
            foreach (var key in new[] { Gate, Up, Down }) yield return (key, new[] { rows, (long)c.HiddenSize });
        }

        /// <inheritdoc />
        public override void Decode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> state)
        {
            state["experts.w_gate"] = PerExpert(get(Gate), c).transpose(1, 2).contiguous();
            state["experts.w_in"] = PerExpert(get(Up), c).transpose(1, 2).contiguous();
            state["experts.w_out"] = PerExpert(get(Down), c).contiguous();
        }

        /// <inheritdoc />
        public override void Encode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> block)
        {
            var rows = (long)c.NumExperts * c.ExpertWidth;
            block[Gate] = get("experts.w_gate").transpose(1, 2).contiguous().reshape(rows, c.HiddenSize);
            block[Up] = get("experts.w_in").transpose(1, 2).contiguous().reshape(rows, c.HiddenSize);
            block[Down] = get("experts.w_out").contiguous().reshape(rows, c.HiddenSize);
        }

        /// <summary>[E·h, d] → [E, h, d].</summary>
        private static Tensor PerExpert(Tensor flat, HfMoeConfig c) => flat.reshape(c.NumExperts, c.ExpertWidth, c.HiddenSize);
    }
}
