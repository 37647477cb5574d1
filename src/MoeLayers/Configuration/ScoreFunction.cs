namespace MoeLayers
{
    /// <summary>How a top-k router turns logits into the affinities it selects experts by.</summary>
    public enum ScoreFunction
    {
        /// <summary>s = softmax(z) over the experts (Mixtral, Qwen, OLMoE, DeepSeek-V2).</summary>
        Softmax,

        /// <summary>s = sigmoid(z), each expert on its own (DeepSeek-V3); the selected s are the weights.</summary>
        Sigmoid,
    }
}
