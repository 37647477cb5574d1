namespace MoeLayers
{
    /// <summary>The order of softmax and top-k selection in a top-k router. Both select the same experts.</summary>
    public enum TopKOrder
    {
        /// <summary>p = softmax(z) over all experts, then the k largest p; weights optionally renormalized (Mixtral).</summary>
        SoftmaxThenTopK,

        /// <summary>Keep the k largest logits, softmax over them (Shazeer et al. 2017); weights sum to 1.</summary>
        TopKThenSoftmax,
    }
}
