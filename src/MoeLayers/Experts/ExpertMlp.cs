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
    /// With LoRA <see cref="Adapters"/>, each adapted projection adds (x·A_e)·(s·B_e), two grouped products of rank r.
    /// Memory-optimized, the grouped and padded forms run as one <see cref="ExpertMlpFunction"/> (the adapters included);
    /// otherwise each product is one grouped-product op. The reference loop's single expert composes plain products. A
    /// value over the bank's parameters; it holds nothing else.
    /// </summary>
    internal readonly record struct ExpertMlp(Tensor InputWeight, Tensor? GateWeight, Tensor OutputWeight, Tensor? InputBias,
        Tensor? GateBias, Tensor? OutputBias, ActivationFunction Activation, bool MemoryOptimized, AdapterUpdates? Adapters = null)
    {
        /// <summary>
        /// Expert-contiguous rows [M, d] with per-expert counts → [M, out]; <paramref name="gateRows"/> [M, d_g] are the
        /// gate's input, or null when it reads the rows; <paramref name="matmul"/> runs the products.
        /// </summary>
        public Tensor Grouped(Tensor rows, Tensor? gateRows, long[] counts, IGroupedMatmul matmul)
        {
            if (MemoryOptimized)
                return ExpertMlpFunction.Apply(rows, gateRows, this, counts, matmul.Products(rows, counts, InputWeight), AdapterProducts(rows, counts, matmul));
            return Composed(rows, gateRows, (x, w, b) => matmul.Multiply(x, counts, w, b),
                (x, update) => matmul.Multiply(matmul.Multiply(x, counts, update.Down), counts, update.Up));
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
            Composed(rows, gateRows, (x, w, b) => b is null ? x.matmul(w[expert]) : x.matmul(w[expert]) + b[expert],
                (x, update) => x.matmul(update.Down[expert]).matmul(update.Up[expert]));

        private Tensor Composed(Tensor rows, Tensor? gateRows, Func<Tensor, Tensor, Tensor?, Tensor> project, Func<Tensor, LowRankUpdate, Tensor> lowRank)
        {
            var hidden = Adapted(project(rows, InputWeight, InputBias), rows, Adapters?.Input, lowRank);
            var gate = GateWeight is null ? null : Adapted(project(gateRows ?? rows, GateWeight, GateBias), gateRows ?? rows, Adapters?.Gate, lowRank);
            var activated = Activation.Apply(hidden, gate);
            return Adapted(project(activated, OutputWeight, OutputBias), activated, Adapters?.Output, lowRank);
        }

        private static Tensor Adapted(Tensor projected, Tensor input, LowRankUpdate? update, Func<Tensor, LowRankUpdate, Tensor> lowRank) =>
            update is { } u ? projected + lowRank(input, u) : projected;

        /// <summary>
        /// The products of each adapter's down and up projection (in the order input, gate, output), chosen like the base
        /// weights' but for the adapters' own widths (a rank that a library does not take runs per expert), or null where
        /// a projection has no adapter.
        /// </summary>
        private GroupedProducts?[] AdapterProducts(Tensor rows, long[] counts, IGroupedMatmul matmul)
        {
            var products = new GroupedProducts?[6];
            if (Adapters is not { } adapters) return products;
            var updates = new[] { adapters.Input, adapters.Gate, adapters.Output };
            for (var i = 0; i < updates.Length; i++)
            {
                if (updates[i] is not { } update) continue;
                products[2 * i] = matmul.Products(rows, counts, update.Down);
                products[2 * i + 1] = matmul.Products(rows, counts, update.Up);
            }
            return products;
        }
    }
}
