using System.Collections.Generic;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>What <see cref="FineTuner.Train"/> did.</summary>
    /// <param name="History">Every step of the run, those of earlier runs it resumed included.</param>
    /// <param name="ResumedFrom">The steps done when this run started (0 for a new run).</param>
    /// <param name="Cancelled">Whether the run stopped early on cancellation (after checkpointing the last step done).</param>
    public sealed record FineTuneResult(IReadOnlyList<StepRecord> History, int ResumedFrom, bool Cancelled);
}
