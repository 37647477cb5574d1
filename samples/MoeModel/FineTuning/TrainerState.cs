using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>What a training checkpoint records beside the weights and the optimizer's state.</summary>
    /// <param name="CompletedSteps">Optimizer steps done.</param>
    /// <param name="Options">The run's options (a resumed run must use the same).</param>
    /// <param name="Adapters">The LoRA settings, or null for a full fine-tune.</param>
    /// <param name="History">Every step so far.</param>
    public sealed record TrainerState(int CompletedSteps, FineTuneOptions Options, AdapterSettings? Adapters, IReadOnlyList<StepRecord> History);
}
