using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Y = grouped X · W as one library call per pass, with its backward: dX = dY[g] · W[g]ᵀ and dW[g] = X[g]ᵀ · dY[g], each
    /// also one call (two calls in all). Experts without rows get a zero dW. A backward runs inside libtorch's autograd
    /// engine, where an exception cannot be handed back, so a failing library call there is reported to the failure
    /// callback and the gradients are computed per expert instead. Arguments: rows X [M, d], weights W [E, d, h], counts
    /// (long[]), <see cref="IGroupedGemmRunner"/>, failure callback (Action&lt;Exception&gt;).
    /// </summary>
    internal sealed class GroupedGemmFunction : autograd.SingleTensorFunction<GroupedGemmFunction>
    {
        public override string Name => "MoeGroupedGemm";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (rows, weights, counts, runner) = (((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous(), (long[])vars[2], (IGroupedGemmRunner)vars[3]);
            ctx.save_for_backward(new List<Tensor> { rows, weights });
            ctx.save_data("counts", counts);
            ctx.save_data("runner", runner);
            ctx.save_data("onFailure", vars[4]);
            return Forward(runner, rows, counts, weights);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            var (rows, weights) = (saved[0], saved[1]);
            var counts = (long[])ctx.get_data("counts");
            var runner = (IGroupedGemmRunner)ctx.get_data("runner");
            Tensor gradRows, gradWeights;
            try
            {
                (gradRows, gradWeights) = Backward(runner, rows, counts, weights, grad_output);
            }
            catch (Exception e)
            {
                ((Action<Exception>)ctx.get_data("onFailure"))(e);
                (gradRows, gradWeights) = PerExpertBackward(rows, counts, weights, grad_output);
            }
            return new List<Tensor> { gradRows, gradWeights, null!, null!, null! };
        }

        /// <summary>Y [M, h] = grouped <paramref name="rows"/> · <paramref name="weights"/>, one call.</summary>
        internal static Tensor Forward(IGroupedGemmRunner runner, Tensor rows, long[] counts, Tensor weights)
        {
            var (d, h) = ((int)weights.shape[1], (int)weights.shape[2]);
            var output = empty(new[] { rows.shape[0], (long)h }, rows.dtype, rows.device);
            runner.Run(GroupedGemmPlan.Build(GroupedGemmPass.Forward, counts, d, h), weights, rows, output);
            return output;
        }

        /// <summary>(dX [M, d], dW [E, d, h]) for upstream gradient dY [M, h], one call each.</summary>
        internal static (Tensor GradRows, Tensor GradWeights) Backward(IGroupedGemmRunner runner, Tensor rows, long[] counts, Tensor weights, Tensor gradOutput)
        {
            var (d, h) = ((int)weights.shape[1], (int)weights.shape[2]);
            var gradY = gradOutput.to(rows.dtype).contiguous();
            // A view with an offset could break the library's 16-byte rule; a fresh copy never does.
            if (gradY.numel() > 0 && TensorMemory.Address(gradY) % 16 != 0) gradY = gradY.clone();
            var gradRows = empty(rows.shape, rows.dtype, rows.device);
            runner.Run(GroupedGemmPlan.Build(GroupedGemmPass.GradInput, counts, d, h), weights, gradY, gradRows);
            var gradWeights = counts.All(c => c > 0) ? empty(weights.shape, weights.dtype, weights.device) : zeros(weights.shape, weights.dtype, weights.device);
            runner.Run(GroupedGemmPlan.Build(GroupedGemmPass.GradWeight, counts, d, h), gradY, rows, gradWeights);
            return (gradRows, gradWeights);
        }

        /// <summary>The same gradients from one TorchSharp product per expert (the fallback of a failed library call).</summary>
        internal static (Tensor GradRows, Tensor GradWeights) PerExpertBackward(Tensor rows, long[] counts, Tensor weights, Tensor gradOutput)
        {
            var gradY = gradOutput.to(rows.dtype);
            var blocks = rows.split(counts);
            var gradBlocks = gradY.split(counts);
            var gradRows = cat(gradBlocks.Select((g, e) => g.matmul(weights[e].t())).ToArray(), 0);
            var gradWeights = stack(blocks.Select((x, e) => x.t().matmul(gradBlocks[e])).ToArray());
            return (gradRows, gradWeights);
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
