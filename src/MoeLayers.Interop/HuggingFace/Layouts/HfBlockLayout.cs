using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>Block-relative names of a router's tensors.</summary>
    /// <param name="Weight">The router weight [E, d] (e.g. "gate.weight").</param>
    /// <param name="Bias">The router's logit bias [E] (gpt-oss), or null when the family has none.</param>
    /// <param name="CorrectionBias">The selection-only balance bias [E] (DeepSeek-V3's "gate.e_score_correction_bias"), or null.</param>
    /// <param name="CorrectionBiasIsRow">The balance bias is stored as one row [1, E] (ERNIE 4.5's moe_statics, one row per
    /// modality group), read and written as the router's [E].</param>
    /// <param name="WeightIsFloat32">The router weight is stored float32 whatever the checkpoint's dtype (ERNIE 4.5 keeps its
    /// gate in float32), as the balance bias always is.</param>
    internal sealed record HfRouterKeys(string Weight, string? Bias = null, string? CorrectionBias = null, bool CorrectionBiasIsRow = false,
        bool WeightIsFloat32 = false);

    /// <summary>
    /// Where a family's MoE block keeps its tensors: the router's names, the expert layouts a checkpoint of the family may
    /// use (the first is the one published on the Hub), and the shared experts' names.
    /// </summary>
    /// <param name="Router">The router's tensor names.</param>
    /// <param name="Experts">The routed experts' layouts; the first is the published one.</param>
    /// <param name="Shared">The shared experts' names, or null when the family has none.</param>
    internal sealed record HfBlockLayout(HfRouterKeys Router, IReadOnlyList<HfExpertsCodec> Experts, HfSharedExpertCodec? Shared = null)
    {
        /// <summary>The codec of <paramref name="layout"/>, or an exception saying which layouts the family has.</summary>
        public HfExpertsCodec Codec(HfExpertLayout layout, HfArchitecture family) =>
            Experts.FirstOrDefault(c => c.Layout == layout) ?? throw new InvalidDataException(
                $"{family} checkpoints have no {layout} expert layout; they use {string.Join(" or ", Experts.Select(c => c.Layout))}.");
    }
}
