using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The plain reference: for each expert, find its pairs on the host, apply capacity with simple list logic, run the
    /// expert on its rows (each scaled by its weight first, with <see cref="DispatchRules.WeightExpertInputs"/>) and
    /// index_add the weighted (or, then, plain) outputs into place. Slow and obviously correct; the tests' oracle.
    /// </summary>
    internal sealed class ReferenceDispatcher : IExpertDispatcher
    {
        public DispatchOutput Dispatch(Tensor input, RoutedTokens routed, DispatchRules rules)
        {
            var (routing, experts) = (routed.Routing, routed.Experts);
            var tokens = routing.ExpertIndices.shape[0];
            var topK = (int)routing.ExpertIndices.shape[1];
            var indices = HostCopy.ToArray<long>(routing.ExpertIndices);
            var weightValues = HostCopy.ToArray<float>(routing.CombineWeights.to(ScalarType.Float32));
            var isReal = rules.Mask?.IsReal.ToArray();
            var isSelected = routing.SelectedPairs is null ? null : HostCopy.ToArray<bool>(routing.SelectedPairs);

            var flatWeights = routing.CombineWeights.to(input.dtype).reshape(tokens * topK);
            var output = zeros(new[] { tokens, (long)experts.OutputDim }, input.dtype, input.device);
            var assigned = new long[experts.NumExperts];
            var kept = new long[experts.NumExperts];
            for (var e = 0; e < experts.NumExperts; e++)
            {
                var pairs = new List<long>();
                for (long p = 0; p < indices.Length; p++)
                {
                    if (indices[p] == e && (isReal is null || isReal[p / topK]) && (isSelected is null || isSelected[p])) pairs.Add(p);
                }
                assigned[e] = pairs.Count;
                if (rules.Capacity is { } capacity && pairs.Count > capacity)
                {
                    pairs = rules.DropPolicy switch
                    {
                        DropPolicy.ByWeight => pairs.OrderByDescending(p => weightValues[p]).ThenBy(p => p).ToList(),
                        DropPolicy.ByChoiceThenPosition => pairs.OrderBy(p => p % topK).ThenBy(p => p).ToList(),
                        _ => pairs,
                    };
                    pairs = pairs.Take((int)capacity).ToList();
                }
                kept[e] = pairs.Count;
                if (pairs.Count == 0) continue;

                var pairIndex = tensor(pairs.ToArray(), ScalarType.Int64, input.device);
                var tokenIndex = tensor(pairs.Select(p => p / topK).ToArray(), ScalarType.Int64, input.device);
                var pairWeights = flatWeights.index_select(0, pairIndex).unsqueeze(1);
                var expertInput = input.index_select(0, tokenIndex);
                var contribution = rules.WeightExpertInputs
                    ? experts.ForwardExpert(e, expertInput * pairWeights, tokenIndex)
                    : experts.ForwardExpert(e, expertInput, tokenIndex) * pairWeights;
                output = output.index_add(0, tokenIndex, contribution, 1.0);
            }
            return new DispatchOutput(output, assigned, kept, rules.Capacity, rules.Mask?.RealCount ?? tokens);
        }
    }
}
