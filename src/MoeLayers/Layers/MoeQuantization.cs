using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Inference forms of a trained or loaded MoE layer.</summary>
    public static class MoeQuantization
    {
        /// <summary>
        /// A new layer, in evaluation mode, whose routed experts are <paramref name="layer"/>'s in weight-only int8 with one
        /// float32 scale per output channel (<see cref="MoeLayerOptions.Int8Experts"/>): for each projection W [E, in, out],
        /// s[e, c] = max_i |W[e, i, c]| / 127 and q = round(W / s) in [−127, 127]. Everything else (router, balance bias,
        /// shared experts, expert biases) is copied in float32, the dtype the new layer's activations take. State-dict keys:
        /// experts.w_in, experts.w_gate (gated activations), experts.w_out (int8, the shapes of the float weights) and
        /// experts.w_in_scale, experts.w_gate_scale [E, h], experts.w_out_scale [E, out] (float32); the other keys as
        /// <paramref name="layer"/>'s. Save it with <c>save</c> or <c>state_dict</c>; load it into
        /// <c>new MoeLayer(options)</c> built with <see cref="MoeLayerOptions.Int8Experts"/> = true, then call <c>eval()</c>.
        /// A training forward of the new layer throws. <paramref name="layer"/> is not changed.
        /// </summary>
        /// <param name="layer">A layer with stacked two-layer experts on one process (not Autonomy-of-Experts, not expert-parallel, without LoRA adapters).</param>
        public static MoeLayer ToInt8Experts(MoeLayer layer)
        {
            ArgumentNullException.ThrowIfNull(layer);
            var options = layer.Options;
            if (options.Lora is not null)
                throw new ArgumentException($"MoE layer '{layer.GetName()}' has LoRA adapters, which the int8 experts do not compute: quantize MoeLora.MergeAndUnload(layer).", nameof(layer));
            if (options.Int8Experts) throw new ArgumentException($"MoE layer '{layer.GetName()}' already holds int8 experts.", nameof(layer));
            if (options.Router == RouterKind.AutonomyOfExperts)
                throw new ArgumentException($"MoE layer '{layer.GetName()}' routes with Autonomy-of-Experts, whose low-rank experts have no int8 form.", nameof(layer));
            if (layer.FixedDispatcher is not null)
                throw new ArgumentException($"MoE layer '{layer.GetName()}' is expert-parallel (it holds {layer.LocalExperts} of {layer.NumExperts} experts); quantize a layer that holds all of them.", nameof(layer));
            var device = layer.Experts.InputWeight.device;
            options.Int8Experts = true;
            var quantized = new MoeLayer(options, layer.GetName());
            try
            {
                quantized.to(device);
                using var scope = NewDisposeScope();
                var state = new Dictionary<string, Tensor>();
                foreach (var (key, value) in layer.state_dict())
                {
                    if (key is "experts.w_in" or "experts.w_gate" or "experts.w_out")
                    {
                        var (values, scales) = Int8Quantization.Quantize(value);
                        state[key] = values;
                        state[key + "_scale"] = scales;
                    }
                    else
                    {
                        state[key] = value.is_floating_point() ? value.detach().to(ScalarType.Float32) : value;
                    }
                }
                MoeStateDict.Load(quantized, state, strict: true, skip: null, exactDTypes: true);
            }
            catch
            {
                quantized.Dispose();
                throw;
            }
            quantized.eval();
            return quantized;
        }
    }
}
