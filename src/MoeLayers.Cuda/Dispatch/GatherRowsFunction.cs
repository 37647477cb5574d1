using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// rows = x[token of each kept pair], with its backward: dx[t] = Σⱼ dRows[rowOfPair[t·k + j]] over kept slots, a
    /// fixed-order sum per token (the deterministic stand-in for index_add).
    /// Arguments: x [T, d], pairOfRow int32 [M], rowOfPair int32 [T·k], <see cref="FusedKernels"/>, k.
    /// </summary>
    internal sealed class GatherRowsFunction : autograd.SingleTensorFunction<GatherRowsFunction>
    {
        public override string Name => "MoeGatherRows";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, pairOfRow, rowOfPair, kernels, topK) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (FusedKernels)vars[3], (int)vars[4]);
            ctx.save_for_backward(new List<Tensor> { rowOfPair });
            ctx.save_data("kernels", kernels);
            ctx.save_data("topK", topK);
            ctx.save_data("tokens", input.shape[0]);
            return kernels.GatherRows(input, pairOfRow, topK);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var rowOfPair = ctx.get_saved_variables()[0];
            var kernels = (FusedKernels)ctx.get_data("kernels");
            var gradInput = kernels.CombineRows(grad_output, null, rowOfPair, (long)ctx.get_data("tokens"), (int)ctx.get_data("topK"));
            return new List<Tensor> { gradInput, null!, null!, null!, null! };
        }
    }
}
