using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The expert MLP of a bank, written once for every way a dispatcher runs it:
    /// Y = act(X·W_in + b_in [, X_g·W_gate + b_gate])·W_out + b_out per expert (weights [E, d, h], [E, d_g, h] or null,
    /// [E, h, out]; biases [E, h], [E, h], [E, out] or null), where the gate reads the rows themselves (the gated
    /// activations) or other rows (the Autonomy-of-Experts experts' cached low-rank activations, with W_gate = W_up).
    /// Memory-optimized, the grouped and padded forms run as one <see cref="ExpertMlpFunction"/>; otherwise each projection
    /// is one grouped-product op. The reference loop's single expert composes plain products. A value over the bank's
    /// parameters; it holds nothing else.
    /// </summary>
    internal readonly record struct ExpertMlp(Tensor InputWeight, Tensor? GateWeight, Tensor OutputWeight, Tensor? InputBias,
        Tensor? GateBias, Tensor? OutputBias, ActivationFunction Activation, bool MemoryOptimized)
    {
        /// <summary>
        /// Expert-contiguous rows [M, d] with per-expert counts → [M, out]; <paramref name="gateRows"/> [M, d_g] are the
        /// gate's input, or null when it reads the rows; <paramref name="matmul"/> runs the products.
        /// </summary>
        public Tensor Grouped(Tensor rows, Tensor? gateRows, long[] counts, IGroupedMatmul matmul)
        {
            if (MemoryOptimized) return Fused(rows, gateRows, counts, matmul.Products(rows, counts, InputWeight));
            return Composed(rows, gateRows, (x, w, b) => matmul.Multiply(x, counts, w, b));
        }

        /// <summary>A padded buffer [E, C, d] (gate rows [E·C, d_g] in buffer order, or null) → [E, C, out]: equal groups, one batched product per projection.</summary>
        public Tensor Padded(Tensor padded, Tensor? gateRows)
        {
            var (experts, capacity) = (padded.shape[0], padded.shape[1]);
            var counts = Enumerable.Repeat(capacity, (int)experts).ToArray();
            var output = Grouped(padded.reshape(experts * capacity, padded.shape[2]), gateRows, counts, LibraryGroupedMatmul.PerExpert);
            return output.view(experts, capacity, output.shape[1]);
        }

        /// <summary>Expert <paramref name="expert"/> alone on rows [n, d] (gate rows [n, d_g] or null) → [n, out], plain products.</summary>
        public Tensor Single(int expert, Tensor rows, Tensor? gateRows) =>
            Composed(rows, gateRows, (x, w, b) => b is null ? x.matmul(w[expert]) : x.matmul(w[expert]) + b[expert]);

        private Tensor Composed(Tensor rows, Tensor? gateRows, Func<Tensor, Tensor, Tensor?, Tensor> project)
        {
            var hidden = project(rows, InputWeight, InputBias);
            var gate = GateWeight is null ? null : project(gateRows ?? rows, GateWeight, GateBias);
            return project(Activation.Apply(hidden, gate), OutputWeight, OutputBias);
        }

        private Tensor Fused(Tensor rows, Tensor? gateRows, long[] counts, GroupedProducts products) =>
            ExpertMlpFunction.Apply(rows, gateRows, this, counts, products);
    }
}
