using System.Collections.Generic;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>Receives training progress (a console reporter, a test, a comparison).</summary>
    public interface ITrainingObserver
    {
        /// <summary>After every optimizer step.</summary>
        /// <param name="iteration">Steps done, 1 after the first.</param>
        /// <param name="loss">Cross-entropy of the step's batch.</param>
        /// <param name="auxiliaryLoss">Sum of the MoE auxiliary losses of the step (coefficients applied).</param>
        /// <param name="tokensPerSecond">Training throughput so far (evaluation excluded).</param>
        void OnStep(int iteration, double loss, double auxiliaryLoss, double tokensPerSecond);

        /// <summary>After each periodic loss estimate, with the routing of the steps since the previous one.</summary>
        void OnEvaluation(EvaluationPoint point, IReadOnlyList<LayerRouting> routing);
    }
}
