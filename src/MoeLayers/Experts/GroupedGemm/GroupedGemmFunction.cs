using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Y = grouped X · W with its backward dX = dY[g] · W[g]ᵀ and dW[g] = X[g]ᵀ · dY[g], each pass one library call when the
    /// <see cref="GroupedProducts"/> has a runner (three calls in all), else one TorchSharp product per expert; experts without rows get a zero dW. A failing call is
    /// reported to the products' failure callback and redone per expert, in forward and in backward (a backward runs inside
    /// libtorch's autograd engine, where an exception cannot be handed back). Arguments: rows X [M, d], weights W [E, d, h],
    /// counts (long[]), <see cref="GroupedProducts"/>.
    /// </summary>
    internal sealed class GroupedGemmFunction : autograd.SingleTensorFunction<GroupedGemmFunction>
    {
        public override string Name => "MoeGroupedGemm";

        /// <summary>One projection with autograd: this function, and <see cref="GroupedBiasFunction"/> for a bias.</summary>
        /// <param name="rows">Expert-contiguous rows [M, d].</param>
        /// <param name="counts">Rows of each expert.</param>
        /// <param name="weights">Stacked weights [E, d, h].</param>
        /// <param name="bias">Per-expert bias [E, h], or null.</param>
        /// <param name="products">The products the grouped matmul chose for these operands.</param>
        internal static Tensor Multiply(Tensor rows, long[] counts, Tensor weights, Tensor? bias, GroupedProducts products)
        {
            var output = apply(rows, weights, counts, products);
            return bias is null ? output : GroupedBiasFunction.apply(output, bias, counts);
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (rows, weights, counts, products) = (((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous(), (long[])vars[2], (GroupedProducts)vars[3]);
            ctx.save_for_backward(new List<Tensor> { rows, weights });
            ctx.save_data("counts", counts);
            ctx.save_data("products", products);
            return products.Multiply(rows, counts, weights);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            var (rows, weights) = (saved[0], saved[1]);
            var counts = (long[])ctx.get_data("counts");
            var products = (GroupedProducts)ctx.get_data("products");
            using var gradY = grad_output.to(rows.dtype);
            var gradRows = products.MultiplyTransposed(gradY, counts, weights);
            var gradWeights = products.WeightGradient(rows, gradY, counts);
            return new List<Tensor> { gradRows, gradWeights, null!, null! };
        }
    }

    /// <summary>
    /// Y + bias[expert of each row], with dBias[e] = the column sums of dY over expert e's rows (a fixed-order reduction per
    /// expert, no atomics). Arguments: Y [M, h], bias [E, h], counts (long[]).
    /// </summary>
    internal sealed class GroupedBiasFunction : autograd.SingleTensorFunction<GroupedBiasFunction>
    {
        public override string Name => "MoeGroupedBias";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (output, bias, counts) = ((Tensor)vars[0], (Tensor)vars[1], (long[])vars[2]);
            ctx.save_data("counts", counts);
            // Counts go up from pinned memory without blocking: a pageable copy would synchronize the stream.
            using var host = tensor(counts);
            if (bias.device_type != DeviceType.CUDA) return output + bias.repeat_interleave(host, 0, output.shape[0]);
            using var pinned = host.pin_memory();
            using var repeats = pinned.to(bias.device, non_blocking: true);
            return output + bias.repeat_interleave(repeats, 0, output.shape[0]);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var counts = (long[])ctx.get_data("counts");
            var gradBias = stack(grad_output.split(counts).Select(block => block.sum(dim: 0)).ToArray());
            return new List<Tensor> { grad_output, gradBias, null! };
        }
    }
}
