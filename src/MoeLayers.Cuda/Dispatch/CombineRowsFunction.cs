using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// y[t] = Σⱼ w[t, j] · out[rowOfPair[t·k + j]] (kept slots, j ascending), with its backward:
    /// dOut[r] = w[p] · dy[p / k] and dw[p] = ⟨dy[p / k], out[rowOfPair[p]]⟩ (0 for dropped pairs). No atomics anywhere.
    /// Arguments: out [M, d_out], weights float32 [T, k], rowOfPair int32 [T·k], pairOfRow int32 [M], <see cref="FusedKernels"/>, k.
    /// </summary>
    internal sealed class CombineRowsFunction : autograd.SingleTensorFunction<CombineRowsFunction>
    {
        public override string Name => "MoeCombineRows";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (rows, weights, rowOfPair, pairOfRow, kernels, topK) =
                ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (FusedKernels)vars[4], (int)vars[5]);
            ctx.save_for_backward(new List<Tensor> { rows, weights, rowOfPair, pairOfRow });
            ctx.save_data("kernels", kernels);
            ctx.save_data("topK", topK);
            return kernels.CombineRows(rows, weights, rowOfPair, weights.shape[0], topK);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            var (rows, weights, rowOfPair, pairOfRow) = (saved[0], saved[1], saved[2], saved[3]);
            var kernels = (FusedKernels)ctx.get_data("kernels");
            var topK = (int)ctx.get_data("topK");
            var gradOutput = grad_output.to(rows.dtype);
            var gradRows = kernels.ScatterScaledRows(gradOutput, weights, pairOfRow, topK);
            var gradWeights = weights.requires_grad
                ? kernels.PairDot(gradOutput, rows, rowOfPair, topK).view(weights.shape)
                : null;
            return new List<Tensor> { gradRows, gradWeights!, null!, null!, null!, null! };
        }
    }
}
