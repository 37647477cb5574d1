using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The expert MLP of a bank, written once for every way a dispatcher runs it: Y = act(X·W_in + b_in [, X_g·W_gate])·W_out
    /// + b_out per expert, where the gate reads the rows themselves (SwiGLU) or another input (the Autonomy-of-Experts
    /// experts' cached low-rank activations, with W_gate = W_up). Memory-optimized, the grouped and padded forms run as one
    /// <see cref="ExpertMlpFunction"/>; otherwise each projection is one autograd op. The reference loop's single expert
    /// composes plain products. A value over the bank's parameters; it holds nothing else.
    /// </summary>
    /// <param name="InputWeight">W_in [E, d, h].</param>
    /// <param name="GateWeight">W_gate [E, d_g, h] (SwiGLU), else null.</param>
    /// <param name="OutputWeight">W_out [E, h, out].</param>
    /// <param name="InputBias">b_in [E, h], or null.</param>
    /// <param name="OutputBias">b_out [E, out], or null.</param>
    /// <param name="Activation">The hidden activation.</param>
    /// <param name="MemoryOptimized">Run the grouped and padded forms as one memory-optimized autograd function.</param>
    internal readonly record struct ExpertMlp(Tensor InputWeight, Tensor? GateWeight, Tensor OutputWeight, Tensor? InputBias,
        Tensor? OutputBias, ExpertActivation Activation, bool MemoryOptimized)
    {
        /// <summary>Expert-contiguous rows [M, d] (gate rows [M, d_g] or null) with per-expert counts → [M, out].</summary>
        /// <param name="rows">The rows.</param>
        /// <param name="gateRows">The gate's rows, or null when the gate reads <paramref name="rows"/>.</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="matmul">Runs the grouped products.</param>
        public Tensor Grouped(Tensor rows, Tensor? gateRows, long[] counts, IGroupedMatmul matmul)
        {
            if (MemoryOptimized) return Fused(rows, gateRows, counts, matmul.Products(rows, counts, InputWeight));
            return Composed(rows, gateRows, (x, w, b) => matmul.Multiply(x, counts, w, b));
        }

        /// <summary>A padded buffer [E, C, d] (gate buffer rows [E·C, d_g] or null) → [E, C, out], as one batched product per projection.</summary>
        /// <param name="padded">The buffer.</param>
        /// <param name="gateRows">The gate's rows in buffer order, or null when the gate reads the buffer.</param>
        public Tensor Padded(Tensor padded, Tensor? gateRows)
        {
            var (experts, capacity) = (padded.shape[0], padded.shape[1]);
            var rows = padded.reshape(experts * capacity, padded.shape[2]);
            Tensor output;
            if (MemoryOptimized)
            {
                output = Fused(rows, gateRows, Enumerable.Repeat(capacity, (int)experts).ToArray(), GroupedProducts.PerExpert);
            }
            else
            {
                output = Composed(rows, gateRows, (x, w, b) =>
                {
                    var product = x.view(experts, capacity, x.shape[1]).bmm(w);
                    return (b is null ? product : product + b.unsqueeze(1)).view(experts * capacity, w.shape[2]);
                });
            }
            return output.view(experts, capacity, output.shape[1]);
        }

        /// <summary>Expert <paramref name="expert"/> alone on rows [n, d] (gate rows [n, d_g] or null) → [n, out], plain products.</summary>
        /// <param name="expert">The expert.</param>
        /// <param name="rows">Its rows.</param>
        /// <param name="gateRows">The gate's rows, or null when the gate reads <paramref name="rows"/>.</param>
        public Tensor Single(int expert, Tensor rows, Tensor? gateRows) =>
            Composed(rows, gateRows, (x, w, b) => b is null ? x.matmul(w[expert]) : x.matmul(w[expert]) + b[expert]);

        private Tensor Composed(Tensor rows, Tensor? gateRows, Func<Tensor, Tensor, Tensor?, Tensor> project)
        {
            var hidden = project(rows, InputWeight, InputBias);
            var gate = GateWeight is null ? null : project(gateRows ?? rows, GateWeight, null);
            return project(ExpertActivations.Apply(Activation, hidden, gate), OutputWeight, OutputBias);
        }

        private Tensor Fused(Tensor rows, Tensor? gateRows, long[] counts, GroupedProducts products) =>
            ExpertMlpFunction.Apply(rows, gateRows, InputWeight, GateWeight, OutputWeight, InputBias, OutputBias, counts, products, Activation);
    }
}
