using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Parallel
{
    /// <summary>Loads a one-process model's weights into a model whose MoE layers are expert-parallel.</summary>
    public static class ExpertShards
    {
        /// <summary>
        /// Loads <paramref name="wholeStateDict"/> (the state dict of the same model built for one process) into
        /// <paramref name="sharded"/>: every tensor as it is, except the <c>experts.*</c> tensors of each
        /// <see cref="MoeLayer"/>, of which this rank keeps rows [FirstExpert, FirstExpert + LocalExperts).
        /// Strict: every key must match.
        /// </summary>
        /// <param name="sharded">A model holding expert-parallel layers.</param>
        /// <param name="wholeStateDict">The one-process model's state dict.</param>
        public static void LoadFromWhole(nn.Module sharded, IReadOnlyDictionary<string, Tensor> wholeStateDict)
        {
            ArgumentNullException.ThrowIfNull(sharded);
            ArgumentNullException.ThrowIfNull(wholeStateDict);
            using var scope = NewDisposeScope();
            var shard = new Dictionary<string, Tensor>(wholeStateDict);
            foreach (var (name, module) in sharded.named_modules())
            {
                if (module is not MoeLayer layer) continue;
                var prefix = name + ".experts.";
                foreach (var (key, value) in wholeStateDict)
                {
                    if (!key.StartsWith(prefix, StringComparison.Ordinal)) continue;
                    if (value.dim() < 1 || value.shape[0] != layer.NumExperts)
                        throw new ArgumentException($"{key} must have {layer.NumExperts} experts in its first dimension; got [{string.Join(", ", value.shape)}].", nameof(wholeStateDict));
                    shard[key] = value.narrow(0, layer.FirstExpert, layer.LocalExperts);
                }
            }
            var (missing, unexpected) = sharded.load_state_dict(shard, strict: true);
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new ArgumentException($"the one-process state dict does not fit the sharded model: missing {string.Join(", ", missing)}; unexpected {string.Join(", ", unexpected)}.", nameof(wholeStateDict));
        }
    }
}
