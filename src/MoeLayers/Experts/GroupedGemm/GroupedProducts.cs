using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The three grouped products of one expert projection, outside autograd: Y = X·W, dX = dY·Wᵀ and dW = Xᵀ·dY per
    /// expert group of rows. With a runner each is one library call (MKL's batched GEMM on the CPU, cuBLAS's grouped GEMM
    /// on CUDA); without one, or when a call fails, one TorchSharp product per expert (one batched product when all groups
    /// have the same size, as in a padded [E, C, d] buffer), or, as <see cref="PaddedBatch"/>, one TorchSharp batched
    /// product over the groups copied into a zero-padded [E, C, ·] buffer (C the largest group). Custom autograd functions call these
    /// in their forward and backward (<see cref="GroupedGemmFunction"/>, <see cref="ExpertMlpFunction"/>). A value handed
    /// from the grouped matmul that chose the library to the function that runs it; it holds no tensors.
    /// </summary>
    internal sealed class GroupedProducts(IGroupedGemmRunner? runner, Action<Exception> onFailure, bool padsGroups = false)
    {
        private readonly IGroupedGemmRunner? _runner = runner;
        private readonly Action<Exception> _onFailure = onFailure;
        private readonly bool _padsGroups = padsGroups;

        /// <summary>One TorchSharp product per expert.</summary>
        public static GroupedProducts PerExpert { get; } = new(null, _ => { });

        /// <summary>
        /// One TorchSharp batched product (bmm) per pass over the groups copied into a zero-padded [E, C, ·] buffer, C the
        /// largest group, the results copied back out: libtorch's batched kernels where they beat its per-expert products
        /// by more than the padding and the copies cost (bfloat16 on the CPU; see <see cref="IGroupedGemmRunner.PadsGroups"/>).
        /// Padding rows are zeros, so they add nothing to a weight gradient, and their outputs are never read.
        /// </summary>
        public static GroupedProducts PaddedBatch { get; } = new(null, _ => { }, padsGroups: true);

        /// <summary>One library call per product; a failing call is reported to <paramref name="onFailure"/> and redone per expert.</summary>
        /// <param name="runner">Runs the grouped GEMMs.</param>
        /// <param name="onFailure">Told of a failed library call (the caller reports it; only that call runs per expert).</param>
        public static GroupedProducts Library(IGroupedGemmRunner runner, Action<Exception> onFailure) =>
            new(runner ?? throw new ArgumentNullException(nameof(runner)), onFailure ?? throw new ArgumentNullException(nameof(onFailure)));

        /// <summary>Whether the products run as library calls (false: TorchSharp products).</summary>
        public bool UsesLibrary => _runner is not null;

        /// <summary>Whether uneven groups run as one batched product over a zero-padded buffer (false: one product per expert).</summary>
        public bool PadsGroups => _padsGroups;

        /// <summary>Y [M, h] = X[g] · W[g] per group.</summary>
        /// <param name="rows">X [M, d], expert-contiguous.</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="weights">W [E, d, h].</param>
        public Tensor Multiply(Tensor rows, long[] counts, Tensor weights)
        {
            // Aliases, views and per-expert blocks made here must not keep their storage alive until the caller's scope ends.
            using var scope = NewDisposeScope();
            var (d, h) = ((int)weights.shape[1], (int)weights.shape[2]);
            if (Library(GroupedGemmPass.Forward, counts, d, h,
                    () => (weights.contiguous(), rows.contiguous(), empty(new[] { rows.shape[0], (long)h }, rows.dtype, rows.device))) is { } output)
                return output.MoveToOuterDisposeScope();
            if (EqualGroups(counts) is { } size)
                return rows.reshape(counts.Length, size, rows.shape[1]).bmm(weights).view(rows.shape[0], weights.shape[2]).MoveToOuterDisposeScope();
            if (Padding(counts) is { } padding)
                return padding.Unpad(padding.Pad(rows, zeroPadding: false).bmm(weights)).MoveToOuterDisposeScope();
            return PerExpertBlocks(rows, counts, weights.shape[2], (block, e) => block.matmul(weights[e])).MoveToOuterDisposeScope();
        }

        /// <summary>dX [M, d] = dY[g] · W[g]ᵀ per group.</summary>
        /// <param name="gradOutput">dY [M, h], expert-contiguous.</param>
        /// <param name="counts">Rows per expert.</param>
        /// <param name="weights">W [E, d, h].</param>
        public Tensor MultiplyTransposed(Tensor gradOutput, long[] counts, Tensor weights)
        {
            // Aliases, views and per-expert blocks made here must not keep their storage alive until the caller's scope ends.
            using var scope = NewDisposeScope();
            var (d, h) = ((int)weights.shape[1], (int)weights.shape[2]);
            if (Library(GroupedGemmPass.GradInput, counts, d, h,
                    () => (weights.contiguous(), Aligned(gradOutput), empty(new[] { gradOutput.shape[0], (long)d }, gradOutput.dtype, gradOutput.device))) is { } gradRows)
                return gradRows.MoveToOuterDisposeScope();
            if (EqualGroups(counts) is { } size)
                return gradOutput.reshape(counts.Length, size, gradOutput.shape[1]).bmm(weights.transpose(1, 2)).view(gradOutput.shape[0], weights.shape[1])
                    .MoveToOuterDisposeScope();
            if (Padding(counts) is { } padding)
                return padding.Unpad(padding.Pad(gradOutput, zeroPadding: false).bmm(weights.transpose(1, 2))).MoveToOuterDisposeScope();
            return PerExpertBlocks(gradOutput, counts, weights.shape[1], (block, e) => block.matmul(weights[e].t())).MoveToOuterDisposeScope();
        }

        /// <summary>dW [E, d, h] = X[g]ᵀ · dY[g] per group; experts without rows get zeros.</summary>
        /// <param name="rows">X [M, d], expert-contiguous.</param>
        /// <param name="gradOutput">dY [M, h], same groups.</param>
        /// <param name="counts">Rows per expert.</param>
        public Tensor WeightGradient(Tensor rows, Tensor gradOutput, long[] counts)
        {
            // Aliases, views and per-expert blocks made here must not keep their storage alive until the caller's scope ends.
            using var scope = NewDisposeScope();
            var (d, h) = (rows.shape[1], gradOutput.shape[1]);
            var shape = new[] { (long)counts.Length, d, h };
            // Experts without rows are not written by the library call: their gradient must start at zero.
            if (Library(GroupedGemmPass.GradWeight, counts, (int)d, (int)h, () => (Aligned(gradOutput), rows.contiguous(),
                    counts.All(c => c > 0) ? empty(shape, rows.dtype, rows.device) : zeros(shape, rows.dtype, rows.device))) is { } gradWeights)
                return gradWeights.MoveToOuterDisposeScope();
            if (EqualGroups(counts) is { } size)
                return rows.reshape(counts.Length, size, d).transpose(1, 2).bmm(gradOutput.reshape(counts.Length, size, h)).MoveToOuterDisposeScope();
            using var noGrad = no_grad();
            if (Padding(counts) is { } padding)
                return padding.Pad(rows, zeroPadding: true).transpose(1, 2).bmm(padding.Pad(gradOutput, zeroPadding: true)).MoveToOuterDisposeScope();
            var perExpert = zeros(new[] { (long)counts.Length, d, h }, rows.dtype, rows.device);
            long first = 0;
            for (var e = 0; e < counts.Length; e++)
            {
                if (counts[e] > 0) perExpert[e].addmm_(rows.narrow(0, first, counts[e]).t(), gradOutput.narrow(0, first, counts[e]));
                first += counts[e];
            }
            return perExpert.MoveToOuterDisposeScope();
        }

        /// <summary>
        /// One library call of <paramref name="pass"/> writing C of the operands (A, B, C), or null when there is no runner,
        /// the call does not pay for these groups, or it failed (reported to the failure callback; this call then runs per
        /// expert).
        /// </summary>
        private Tensor? Library(GroupedGemmPass pass, long[] counts, int d, int h, Func<(Tensor A, Tensor B, Tensor C)> operands)
        {
            if (_runner is null || !_runner.PaysFor(counts)) return null;
            try
            {
                var (a, b, c) = operands();
                _runner.Run(GroupedGemmPlan.Build(pass, counts, d, h), a, b, c);
                return c;
            }
            catch (Exception e)
            {
                _onFailure(e);
                return null;
            }
        }

        /// <summary>The column sums of <paramref name="gradOutput"/> over each group's rows [E, h]: a bias's gradient.</summary>
        /// <param name="gradOutput">dY [M, h], expert-contiguous.</param>
        /// <param name="counts">Rows per expert.</param>
        public static Tensor GroupSums(Tensor gradOutput, long[] counts)
        {
            using var scope = NewDisposeScope();
            return stack(gradOutput.split(counts).Select(block => block.sum(dim: 0)).ToArray()).MoveToOuterDisposeScope();
        }

        /// <summary>Adds bias[e] to group e's rows of <paramref name="output"/> in place.</summary>
        /// <param name="output">Y [M, h], expert-contiguous (written).</param>
        /// <param name="bias">[E, h].</param>
        /// <param name="counts">Rows per expert.</param>
        public static void AddGroupBias(Tensor output, Tensor bias, long[] counts)
        {
            using var host = tensor(counts);
            using var repeats = bias.device_type == DeviceType.CPU ? host.alias() : host.to(bias.device);
            using var expanded = bias.repeat_interleave(repeats, 0, output.shape[0]);
            output.add_(expanded);
        }

        /// <summary>
        /// One product per expert that has rows, on its block of <paramref name="rows"/>, concatenated in expert order. Runs
        /// outside autograd, so indexing the stacked weights per expert costs a view, not a full-size gradient each.
        /// </summary>
        private static Tensor PerExpertBlocks(Tensor rows, long[] counts, long width, Func<Tensor, int, Tensor> product)
        {
            using var noGrad = no_grad();
            var blocks = new List<Tensor>(counts.Length);
            long first = 0;
            for (var e = 0; e < counts.Length; e++)
            {
                if (counts[e] > 0) blocks.Add(product(rows.narrow(0, first, counts[e]), e));
                first += counts[e];
            }
            return blocks.Count switch
            {
                0 => empty(new[] { 0L, width }, rows.dtype, rows.device),
                1 => blocks[0].contiguous(),
                _ => cat(blocks, 0),
            };
        }

        /// <summary>The padded layout of these groups when this value pads uneven groups and some group has rows, else null.</summary>
        private GroupPadding? Padding(long[] counts) => _padsGroups && counts.Length > 0 && counts.Max() > 0 ? GroupPadding.Of(counts) : null;

        /// <summary>The common group size when every group has the same positive number of rows (one batched product then), else null.</summary>
        private static long? EqualGroups(long[] counts)
        {
            if (counts.Length == 0 || counts[0] == 0) return null;
            foreach (var count in counts)
            {
                if (count != counts[0]) return null;
            }
            return counts[0];
        }

        // A view with an offset could break cuBLAS's 16-byte rule; a fresh copy never does.
        private static Tensor Aligned(Tensor tensor)
        {
            var contiguous = tensor.contiguous();
            return contiguous.numel() > 0 && TensorMemory.Address(contiguous) % 16 != 0 ? contiguous.clone() : contiguous;
        }
    }
}
