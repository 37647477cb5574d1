using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// What a router decided for T tokens: which k experts each token goes to and with which weights, plus the
    /// float32 logits and probabilities the auxiliary losses read. The tensors belong to the caller's dispose scope.
    /// Shapes are checked by the layers that consume it.
    /// </summary>
    /// <param name="expertIndices">Chosen experts, int64 [T, k], distinct within a row.</param>
    /// <param name="combineWeights">Weights of the chosen experts, float32 [T, k].</param>
    /// <param name="logits">Router logits before noise, float32 [T, E].</param>
    /// <param name="probabilities">The routing distribution over all experts, float32 [T, E] (rows sum to 1).</param>
    /// <param name="noisyLogits">Logits with noise added (noisy routers in training only), float32 [T, E].</param>
    /// <param name="noiseStd">Per-logit noise standard deviation (noisy routers in training only), float32 [T, E].</param>
    /// <param name="selectedPairs">Which (token, slot) pairs are routed, bool [T, k]; null when all are (every router
    /// but expert choice, whose tokens get a variable number of experts).</param>
    public sealed class RoutingResult(Tensor expertIndices, Tensor combineWeights, Tensor logits, Tensor probabilities,
        Tensor? noisyLogits = null, Tensor? noiseStd = null, Tensor? selectedPairs = null)
    {

        /// <summary>Chosen experts per token, int64 [T, k].</summary>
        public Tensor ExpertIndices { get; } = expertIndices;

        /// <summary>Combine weights of the chosen experts, float32 [T, k], with gradient to the router.</summary>
        public Tensor CombineWeights { get; } = combineWeights;

        /// <summary>
        /// Router logits z = x·Wᵀ before any noise, float32 [T, E]. For the Autonomy-of-Experts layer, which has no router,
        /// these are the experts' scores ‖x·W_downᵢ‖₂.
        /// </summary>
        public Tensor Logits { get; } = logits;

        /// <summary>
        /// The routing distribution over all experts, float32 [T, E], each row summing to 1: softmax of the logits used
        /// for selection, or for sigmoid routers the affinities normalized per token, s/Σs (what the balance losses read).
        /// </summary>
        public Tensor Probabilities { get; } = probabilities;

        /// <summary>Which (token, slot) pairs are routed, bool [T, k], or null when all are (expert choice only).</summary>
        public Tensor? SelectedPairs { get; } = selectedPairs;

        /// <summary>Noisy logits H = z + ε·σ (noisy top-k in training), else null.</summary>
        public Tensor? NoisyLogits { get; } = noisyLogits;

        /// <summary>Noise standard deviation σ = softplus(x·W_noise) (noisy top-k in training), else null.</summary>
        public Tensor? NoiseStd { get; } = noiseStd;

        /// <summary>Number of tokens T.</summary>
        public long TokenCount => ExpertIndices.shape[0];

        /// <summary>Experts per token k.</summary>
        public int TopK => (int)ExpertIndices.shape[1];

        /// <summary>Number of experts E.</summary>
        public int NumExperts => (int)Logits.shape[1];
    }
}
