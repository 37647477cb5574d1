namespace MoeLayers.Cuda
{
    /// <summary>How the routing kernel turns the k selected logits into combine weights (an int kernel argument).</summary>
    internal enum TopKSelection
    {
        /// <summary>w = softmax(z) of the selected experts, not renormalized.</summary>
        SoftmaxThenTopK = 0,

        /// <summary>w = softmax(z) of the selected experts divided by their sum (Mixtral).</summary>
        SoftmaxThenTopKRenormalized = 1,

        /// <summary>w = softmax over the k selected logits only (Shazeer et al. 2017).</summary>
        TopKThenSoftmax = 2,
    }
}
