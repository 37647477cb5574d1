using static TorchSharp.torch;

namespace MoeLayers.Tests.Support
{
    internal static class RandomRouting
    {
        /// <summary>Random distinct experts per token and positive weights requiring grad, in float64.</summary>
        public static (RoutingResult Routing, Tensor Weights) Create(long tokens, int experts, int k, Generator? generator = null)
        {
            var scores = rand(new[] { tokens, (long)experts }, ScalarType.Float64, generator: generator);
            var indices = scores.topk(k, 1).indexes;
            var weights = rand(new[] { tokens, (long)k }, ScalarType.Float64, generator: generator).add(0.1).requires_grad_(true);
            var logits = randn(new[] { tokens, (long)experts }, ScalarType.Float32, generator: generator);
            return (new RoutingResult(indices, weights, logits, logits.softmax(1)), weights);
        }
    }
}
