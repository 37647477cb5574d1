using static TorchSharp.torch;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// dL/dz for the three selection rules, given dL/dw [T, k] and dL/dp [T, E]. With p = softmax(z):
    /// softmax-then-top-k adds dw into dp at the chosen experts (through the renormalization w = p_sel / Σ p_sel when on),
    /// then applies the softmax backward p ⊙ (g − ⟨g, p⟩); top-k-then-softmax applies the softmax backward over the k
    /// chosen logits, w ⊙ (dw − ⟨dw, w⟩), and adds the full softmax's backward of dp. Scatters never collide: the k
    /// experts of a token are distinct.
    /// </summary>
    internal static class TopKGradient
    {
        public static Tensor Compute(Tensor logits, Tensor indices, Tensor gradWeights, Tensor gradProbabilities, TopKSelection selection)
        {
            var p = logits.softmax(-1);
            if (selection == TopKSelection.TopKThenSoftmax)
            {
                var w = logits.gather(1, indices).softmax(-1);
                var selected = w * (gradWeights - (gradWeights * w).sum(1, keepdim: true));
                return SoftmaxBackward(p, gradProbabilities).scatter_add(1, indices, selected);
            }
            var gradSelected = gradWeights;
            if (selection == TopKSelection.SoftmaxThenTopKRenormalized)
            {
                var chosen = p.gather(1, indices);
                var total = chosen.sum(1, keepdim: true);
                var weights = chosen / total;
                gradSelected = (gradWeights - (gradWeights * weights).sum(1, keepdim: true)) / total;
            }
            return SoftmaxBackward(p, gradProbabilities.scatter_add(1, indices, gradSelected));
        }

        private static Tensor SoftmaxBackward(Tensor p, Tensor gradP) => p * (gradP - (gradP * p).sum(1, keepdim: true));
    }
}
