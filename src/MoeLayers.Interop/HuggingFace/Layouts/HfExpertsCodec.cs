using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Interop
{
    /// <summary>
    /// One on-disk layout of a block's routed experts, both directions: block-relative checkpoint tensors ↔ the MoeLayers
    /// experts part's state (experts.w_gate, w_in [E, d, h], w_out [E, h, d], and b_gate, b_in [E, h], b_out [E, d]
    /// when the experts have biases).
    /// </summary>
    internal abstract class HfExpertsCodec
    {
        /// <summary>Creates a codec of one layout.</summary>
        protected HfExpertsCodec(HfExpertLayout layout, string blockName)
        {
            Layout = layout;
            BlockName = blockName;
        }

        /// <summary>Which layout this is.</summary>
        public HfExpertLayout Layout { get; }

        /// <summary>The block's name under the decoder layer's prefix in this layout ("mlp.", Mixtral v4's "block_sparse_moe.").</summary>
        public string BlockName { get; }

        /// <summary>A block-relative key that only this layout holds: its presence identifies the layout.</summary>
        public abstract string ProbeKey { get; }

        /// <summary>Every tensor of the layout, block-relative, with its published shape.</summary>
        public abstract IEnumerable<(string Key, long[] Shape)> Shapes(HfMoeConfig config);

        /// <summary>Adds the experts' state-dict entries to <paramref name="state"/> from the block's tensors (read through <paramref name="get"/>).</summary>
        public abstract void Decode(Func<string, Tensor> get, HfMoeConfig config, IDictionary<string, Tensor> state);

        /// <summary>Adds the block's tensors to <paramref name="block"/> from the experts' state-dict entries (read through <paramref name="get"/>).</summary>
        public abstract void Encode(Func<string, Tensor> get, HfMoeConfig config, IDictionary<string, Tensor> block);

        /// <summary>Whether the experts have a gate projection (SwiGLU and its clamped form; not ReLU, GELU or ReLU²).</summary>
        protected static bool Gated(HfMoeConfig config) => config.Activation is ExpertActivation.SwiGlu or ExpertActivation.ClampedSwiGlu;
    }
}
