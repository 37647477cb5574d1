using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Phi-3.5-MoE ("phimoe"), refused: its router is sparsemixer (transformers
    /// src/transformers/models/phimoe/modular_phimoe.py @ 4a4355307f5fa0bae5560b00f034248b4121eaef, sparsemixer and
    /// PhimoeTopKRouter). In evaluation it is deterministic but not a top-k of one softmax: the first expert is the
    /// argmax, weighted by a softmax over only the experts whose logits lie within a relative 2·router_jitter_noise of
    /// the maximum (|max − s| / max(|s|, max) ≤ 2ε); the second is the argmax of the rest, weighted by a softmax over the
    /// rest's own thresholded set. The core's top-k router computes one softmax over all E (or over the k), so neither
    /// weight can be reproduced.
    /// </summary>
    internal sealed class PhimoeRefusal : HfRefusal
    {
        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "phimoe" };

        public override string Missing(HfConfigFields f) =>
            $"sparsemixer routing (each of the two weights is a softmax over only the experts within a relative 2 × '{f.Name("router_jitter_noise")}' " +
            "of that choice's maximum logit, the second after masking the first), which MoeLayers' top-k router (one softmax over all experts, or over the k) does not compute.";
    }
}
