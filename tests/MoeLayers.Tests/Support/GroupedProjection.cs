using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Support
{
    /// <summary>One grouped projection (rows × stacked weights, plus a bias) run forward and backward for the grouped-matmul tests.</summary>
    internal static class GroupedProjection
    {
        /// <summary>Random rows [Σ counts, d], weights [E, d, h] and (optionally) a bias [E, h], all requiring gradients.</summary>
        public static (Tensor X, Tensor W, Tensor? B) Operands(long[] counts, int d, int h, bool bias, ScalarType dtype, int seed)
        {
            var generator = new Generator((ulong)seed);
            var x = randn(new[] { counts.Sum(), (long)d }, dtype, generator: generator).requires_grad_(true);
            var w = randn(new[] { counts.Length, (long)d, h }, dtype, generator: generator).requires_grad_(true);
            var b = bias ? randn(new[] { counts.Length, (long)h }, dtype, generator: generator).requires_grad_(true) : null;
            return (x, w, b);
        }

        /// <summary>Output, dX, dW (and dBias) of one grouped projection under a fixed random upstream gradient.</summary>
        public static Tensor[] Run(IGroupedMatmul matmul, Tensor x, long[] counts, Tensor w, Tensor? b)
        {
            foreach (var t in new[] { x, w, b }) t?.grad?.zero_();
            var y = matmul.Multiply(x, counts, w, b);
            var upstream = randn(y.shape, y.dtype, generator: new Generator(99));
            (y * upstream).sum().backward();
            var results = new List<Tensor> { y.detach().clone(), x.grad!.clone(), w.grad!.clone() };
            if (b is not null) results.Add(b.grad!.clone());
            return results.ToArray();
        }
    }
}
