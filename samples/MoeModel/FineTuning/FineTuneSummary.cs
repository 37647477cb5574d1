namespace MoeLayers.Samples.MoeModel
{
    /// <summary>What the <c>finetune</c> command measured, as it writes it to summary.json.</summary>
    /// <param name="ModelType">The config's model_type.</param>
    /// <param name="Method">"lora" or "full".</param>
    /// <param name="DType">The dtype the model computed in.</param>
    /// <param name="Adapters">The LoRA settings, or null for a full fine-tune.</param>
    /// <param name="Options">The training options.</param>
    /// <param name="TrainingTokens">Tokens of the training split.</param>
    /// <param name="ValidationTokens">Tokens scored for perplexity (the end of the text, never trained on).</param>
    /// <param name="PerplexityBefore">Validation perplexity of the model as loaded.</param>
    /// <param name="PerplexityAfter">Validation perplexity after training.</param>
    /// <param name="TrainedParameters">Elements of the trained tensors (adapters and routers, or every parameter).</param>
    /// <param name="ModelParameters">Elements of the base model's parameters.</param>
    /// <param name="TrainedBytes">Bytes of the trained tensors as saved (float32 adapters; the model's dtype for a full run).</param>
    /// <param name="ModelBytes">Bytes of the base model's parameters in its dtype.</param>
    /// <param name="MedianStepSeconds">The median wall time of an optimizer step of this run.</param>
    /// <param name="MedianCpuSeconds">The median CPU time (all threads) of an optimizer step of this run.</param>
    /// <param name="MedianTokensPerSecond">The median tokens per second of a step of this run.</param>
    /// <param name="PeakMemoryBytes">The process's peak resident set (VmHWM on Linux) when training ended: loading, the first perplexity, the steps and their checkpoints (not the final save).</param>
    public sealed record FineTuneSummary(
        string ModelType, string Method, string DType, AdapterSettings? Adapters, FineTuneOptions Options,
        long TrainingTokens, long ValidationTokens, double PerplexityBefore, double PerplexityAfter,
        long TrainedParameters, long ModelParameters, long TrainedBytes, long ModelBytes,
        double MedianStepSeconds, double MedianCpuSeconds, double MedianTokensPerSecond, long PeakMemoryBytes);
}
