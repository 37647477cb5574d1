using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// <see cref="MoeLayerOptions.CheckFinite"/>: refuses an input [T, d] or routing scores [T, E] holding NaN or Inf,
    /// naming the layer and the tensor, before any expert is picked from them. One host sync per forward.
    /// </summary>
    /// <param name="LayerName">The layer named in messages.</param>
    internal sealed record FiniteCheck(string LayerName)
    {
        /// <summary>Throws when <paramref name="input"/> or <paramref name="scores"/> (named <paramref name="scoresName"/>) hold NaN or Inf.</summary>
        public void Check(Tensor input, Tensor scores, string scoresName)
        {
            using var scope = NewDisposeScope();
            var finite = HostCopy.ToArray<bool>(stack(new[] { input.isfinite().all(), scores.isfinite().all() }));
            if (!finite[0])
                throw new ArgumentException(
                    $"MoE layer '{LayerName}': the input holds {NonFinite(input)} NaN or Inf value(s) of {input.numel()}; routing refuses it (CheckFinite is on).",
                    "input");
            if (!finite[1])
                throw new InvalidOperationException(
                    $"MoE layer '{LayerName}': the {scoresName} hold {NonFinite(scores)} NaN or Inf value(s) of {scores.numel()} although the input is finite; " +
                    "the routing weights have likely diverged (CheckFinite is on).");
        }

        private static long NonFinite(Tensor t) => t.isfinite().logical_not().sum().item<long>();
    }
}
