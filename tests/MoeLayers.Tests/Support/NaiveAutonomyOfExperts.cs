using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Support
{
    /// <summary>
    /// Autonomy-of-Experts written out directly, as the tests' oracle: every expert runs on every token, its norm is
    /// computed from its own slice of W_down, the top k are chosen on the host by sorting, and the output is the dense
    /// gate matrix times the stacked expert outputs. Scores are float32, as in the layer.
    /// </summary>
    internal static class NaiveAutonomyOfExperts
    {
        public sealed record Result(Tensor Output, long[][] Selected, Tensor Probabilities, Tensor Gates);

        public static Result Run(LowRankExpertBank bank, Tensor x, int k, bool renormalize, bool topKThenSoftmax = false)
        {
            var tokens = x.shape[0];
            var experts = bank.NumExperts;
            var rank = bank.LowRank;
            var outputs = new Tensor[experts];
            var norms = new Tensor[experts];
            for (var e = 0; e < experts; e++)
            {
                var a = x.matmul(bank.DownWeight.narrow(1, e * rank, rank));
                norms[e] = a.to(ScalarType.Float32).square().sum(1).sqrt();
                var hidden = nn.functional.silu(a.matmul(bank.UpWeight[e])) * x.matmul(bank.InputWeight[e]);
                outputs[e] = hidden.matmul(bank.OutputWeight[e]);
            }
            var scores = stack(norms, 1);
            var probabilities = scores.softmax(1);

            var hostScores = TensorAssert.Values(scores);
            var selected = new long[tokens][];
            var mask = zeros(tokens, experts);
            for (var t = 0; t < tokens; t++)
            {
                selected[t] = Enumerable.Range(0, experts).OrderByDescending(e => hostScores[t * experts + e]).Take(k).Select(e => (long)e).ToArray();
                foreach (var e in selected[t]) mask[t, e] = tensor(1f);
            }

            Tensor gates;
            if (topKThenSoftmax)
            {
                gates = (scores + (mask - 1) * 1e9f).softmax(1) * mask;
            }
            else
            {
                gates = probabilities * mask;
                if (renormalize) gates = gates / gates.sum(1, keepdim: true);
            }
            var output = (stack(outputs, 1) * gates.to(x.dtype).unsqueeze(2)).sum(1);
            return new Result(output, selected, probabilities, gates);
        }
    }
}
