using System;

namespace MoeLayers.Samples.Mnist.Model
{
    /// <summary>
    /// The hyperparameters of the study's model: how many experts (ne), how many each image is routed to (k), the weight
    /// of the gate loss (lc) and the routing rule. Everything else is fixed by the study: a bias-free linear router over
    /// the 784 pixels, experts 784 → 10 → 10 with ReLU and biases, dropless dispatch, no router z-loss.
    /// </summary>
    /// <param name="NumExperts">ne, at least 1.</param>
    /// <param name="TopK">k, in [1, ne]; 1 for the Switch router.</param>
    /// <param name="LoadCoefficient">lc, the weight of the CV² load-balancing ("gate") loss, ≥ 0.</param>
    /// <param name="Router">The routing rule.</param>
    public sealed record MnistMoeSettings(int NumExperts, int TopK, double LoadCoefficient, RouterKind Router = RouterKind.TopK)
    {
        /// <summary>Pixels per image, the router's and the experts' input width.</summary>
        public const int InputDim = 784;

        /// <summary>Hidden width of each expert.</summary>
        public const int ExpertHiddenDim = 10;

        /// <summary>Number of digit classes, the width of the logits.</summary>
        public const int ClassCount = 10;

        /// <summary>Rank r of the Autonomy-of-Experts experts' factorized gate projection.</summary>
        public const int AoeRank = 4;

        /// <summary>
        /// The library options that build this model's MoE layer. With the Autonomy-of-Experts router the experts are the
        /// paper's bias-free SwiGLU blocks, with rank <see cref="AoeRank"/> and the hidden width that matches the ReLU
        /// expert's parameters: d·r + h'·(r + d + out) = d·h + h + h·out + out, so h' = 6 for r = 4.
        /// </summary>
        /// <returns>A new options object; <see cref="Moe.Create"/> validates it.</returns>
        public MoeLayerOptions ToLayerOptions()
        {
            var options = StudyOptions();
            if (Router != RouterKind.AutonomyOfExperts) return options;
            const int reluExpertParameters = InputDim * ExpertHiddenDim + ExpertHiddenDim + ExpertHiddenDim * ClassCount + ClassCount;
            options.Activation = ExpertActivation.SwiGlu;
            options.ExpertBias = false;
            options.LowRank = AoeRank;
            options.HiddenDim = AutonomyOfExperts.HiddenDimForParameterBudget(InputDim, ClassCount, AoeRank, reluExpertParameters);
            return options;
        }

        private MoeLayerOptions StudyOptions() => new()
        {
            InputDim = InputDim,
            HiddenDim = ExpertHiddenDim,
            OutputDim = ClassCount,
            NumExperts = NumExperts,
            TopK = TopK,
            Router = Router,
            Activation = ExpertActivation.Relu,
            ExpertBias = true,
            LoadBalancingLoss = LoadBalancingLossKind.ImportanceLoad,
            LoadBalancingCoefficient = LoadCoefficient,
            ZLossCoefficient = 0,
            CapacityFactor = null,
            EvalCapacityFactor = null,
            CollectStatistics = true,
        };

        /// <summary>Throws an <see cref="ArgumentException"/> naming every invalid field, before any native call.</summary>
        public void Validate() => MoeLayerOptionsValidator.ThrowIfInvalid(ToLayerOptions(), "settings");

        /// <summary>A short label such as <c>ne=8 k=2 lc=0.01 TopK</c>.</summary>
        public override string ToString() =>
            $"ne={NumExperts} k={TopK} lc={LoadCoefficient.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)} {Router}";
    }
}
