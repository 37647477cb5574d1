using System;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// Linear warmup then cosine decay, per optimizer step s = 0 … S − 1 with W warmup steps, peak η and floor ratio m:
    /// η·(s + 1)/W while s &lt; W; then η·(m + (1 − m)·½(1 + cos(π·p))) with p = (s − W)/(S − W), so the first step after
    /// warmup runs at η and the rate falls towards m·η (transformers' get_cosine_schedule_with_warmup, with a floor).
    /// </summary>
    public static class LearningRateSchedule
    {
        /// <summary>The learning rate of step <paramref name="step"/> (0-based).</summary>
        /// <param name="step">The optimizer step, in [0, Steps).</param>
        /// <param name="options">Steps, warmup, peak and floor.</param>
        public static double At(int step, FineTuneOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            if (step < 0 || step >= options.Steps)
                throw new ArgumentOutOfRangeException(nameof(step), step, $"the step must be in [0, Steps = {options.Steps}).");
            if (step < options.WarmupSteps) return options.LearningRate * (step + 1) / options.WarmupSteps;
            var progress = (double)(step - options.WarmupSteps) / (options.Steps - options.WarmupSteps);
            var ratio = options.MinLearningRateRatio;
            return options.LearningRate * (ratio + (1 - ratio) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
        }
    }
}
