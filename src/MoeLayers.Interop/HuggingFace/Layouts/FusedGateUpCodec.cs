using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// The experts as two 3-D tensors: gate and up fused in one, down in the other. Output-major (transformers v5,
    /// Granite): gate_up [E, 2h, d] with gate rows first, down [E, d, h]. Input-major (gpt-oss, Llama 4): gate_up
    /// [E, d, 2h], down [E, h, d]. Gate and up are halves (gate first) or interleaved columns (gate at even, up at odd
    /// positions: gpt-oss). Optional biases gate_up [E, 2h] (same arrangement) and down [E, d]. Ungated experts keep only
    /// their up projection in the first tensor ([E, h, d] or [E, d, h]).
    /// </summary>
    /// <param name="blockName">The block's name under the layer prefix.</param>
    /// <param name="gateUp">Block-relative key of the fused gate/up tensor ("experts.gate_up_proj").</param>
    /// <param name="down">Block-relative key of the down tensor ("experts.down_proj").</param>
    /// <param name="inputMajor">Stored [E, in, out] rather than nn.Linear's [E, out, in].</param>
    /// <param name="interleaved">Gate and up alternate column by column instead of being two halves.</param>
    /// <param name="gateUpBias">Block-relative key of the fused gate/up bias, or null.</param>
    /// <param name="downBias">Block-relative key of the down bias, or null.</param>
    /// <param name="layout">The public name of this layout for the family.</param>
    internal sealed class FusedGateUpCodec(string blockName, string gateUp = "experts.gate_up_proj", string down = "experts.down_proj",
        bool inputMajor = false, bool interleaved = false, string? gateUpBias = null, string? downBias = null,
        HfExpertLayout layout = HfExpertLayout.Fused) : HfExpertsCodec(layout, blockName)
    {
        /// <inheritdoc />
        public override string ProbeKey => gateUp;

        /// <inheritdoc />
        public override IEnumerable<(string Key, long[] Shape)> Shapes(HfMoeConfig c)
        {
            long e = c.NumExperts, d = c.HiddenSize, h = c.ExpertWidth, first = Gated(c) ? 2 * h : h;
            yield return (gateUp, inputMajor ? new[] { e, d, first } : new[] { e, first, d });
            yield return (down, inputMajor ? new[] { e, h, d } : new[] { e, d, h });
            if (c.ExpertBias && gateUpBias is not null) yield return (gateUpBias, new[] { e, first });
            if (c.ExpertBias && downBias is not null) yield return (downBias, new[] { e, d });
        }

        /// <inheritdoc />
        public override void Decode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> state)
        {
            var h = c.ExpertWidth;
            var fused = InputMajor(get(gateUp)); // [E, d, 2h] or [E, d, h]
            if (Gated(c))
            {
                state["experts.w_gate"] = Gate(fused, h).contiguous();
                state["experts.w_in"] = Up(fused, h).contiguous();
            }
            else
            {
                state["experts.w_in"] = fused.contiguous();
            }
            state["experts.w_out"] = InputMajor(get(down)).contiguous();
            if (!c.ExpertBias) return;
            if (gateUpBias is not null)
            {
                var bias = get(gateUpBias);
                if (Gated(c))
                {
                    state["experts.b_gate"] = Gate(bias, h).contiguous();
                    state["experts.b_in"] = Up(bias, h).contiguous();
                }
                else
                {
                    state["experts.b_in"] = bias.contiguous();
                }
            }
            if (downBias is not null) state["experts.b_out"] = get(downBias).contiguous();
        }

        /// <inheritdoc />
        public override void Encode(Func<string, Tensor> get, HfMoeConfig c, IDictionary<string, Tensor> block)
        {
            var fused = Gated(c) ? Join(get("experts.w_gate"), get("experts.w_in")) : get("experts.w_in");
            block[gateUp] = Stored(fused).contiguous();
            block[down] = Stored(get("experts.w_out")).contiguous();
            if (!c.ExpertBias) return;
            if (gateUpBias is not null) block[gateUpBias] = (Gated(c) ? Join(get("experts.b_gate"), get("experts.b_in")) : get("experts.b_in")).contiguous();
            if (downBias is not null) block[downBias] = get("experts.b_out").contiguous();
        }

        private Tensor InputMajor(Tensor stored) => inputMajor ? stored : stored.transpose(1, 2);

        private Tensor Stored(Tensor weight) => inputMajor ? weight : weight.transpose(1, 2);

        private Tensor Gate(Tensor fused, long h) => interleaved ? fused[TensorIndex.Ellipsis, TensorIndex.Slice(0, null, 2)] : fused.narrow(-1, 0, h);

        private Tensor Up(Tensor fused, long h) => interleaved ? fused[TensorIndex.Ellipsis, TensorIndex.Slice(1, null, 2)] : fused.narrow(-1, h, h);

        /// <summary>Gate and up [..., h] each → [..., 2h] in this layout's arrangement.</summary>
        private Tensor Join(Tensor gate, Tensor up)
        {
            if (!interleaved) return cat(new[] { gate, up }, -1);
            var shape = gate.shape;
            shape[^1] *= 2;
            return stack(new[] { gate, up }, -1).reshape(shape);
        }
    }
}
