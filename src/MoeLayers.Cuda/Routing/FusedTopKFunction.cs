using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The routing kernel as an autograd function: logits [T, E] → (weights [T, k], probabilities [T, E], indices [T, k],
    /// and the kernel's per-block expert counts and status flag, which the dispatcher reuses), with the backward of softmax
    /// and top-k selection written with tensor ops (p is recomputed from the logits rather than kept).
    /// Arguments: logits, <see cref="FusedKernels"/>, k, <see cref="TopKSelection"/>.
    /// </summary>
    internal sealed class FusedTopKFunction : autograd.MultiTensorFunction<FusedTopKFunction>
    {
        public override string Name => "MoeFusedTopK";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (logits, kernels, topK, selection) = ((Tensor)vars[0], (FusedKernels)vars[1], (int)vars[2], (TopKSelection)vars[3]);
            var (indices, weights, probabilities, counts) = kernels.SoftmaxTopK(logits, topK, selection);
            ctx.save_for_backward(new List<Tensor> { logits });
            ctx.save_data("indices", new TensorHolder(indices.alias().DetachFromDisposeScope()));
            ctx.save_data("selection", selection);
            ctx.mark_non_differentiable(new List<Tensor> { indices, counts.BlockCounts, counts.Status });
            return new List<Tensor> { weights, probabilities, indices, counts.BlockCounts, counts.Status };
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            var logits = ctx.get_saved_variables()[0];
            var indices = ((TensorHolder)ctx.get_data("indices")).Tensor;
            var selection = (TopKSelection)ctx.get_data("selection");
            var (gradWeights, gradProbabilities) = (grad_outputs[0], grad_outputs[1]);
            var gradLogits = TopKGradient.Compute(logits, indices, gradWeights, gradProbabilities, selection);
            return new List<Tensor> { gradLogits, null!, null!, null! };
        }

        /// <summary>Keeps a tensor in the autograd context without save_data's warning about tensors.</summary>
        private sealed record TensorHolder(Tensor Tensor);
    }
}
