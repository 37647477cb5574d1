
namespace MoeLayers
{
    /// <summary>Factory methods for MoE layers, in the style of TorchSharp's <c>nn.Linear(...)</c>.</summary>
    public static class Moe
    {
        /// <summary>Creates the layer the options describe (Autonomy-of-Experts included: it is a routing part).</summary>
        /// <param name="options">Validated layer options.</param>
        /// <param name="name">Module name.</param>
        public static MoeLayer Create(MoeLayerOptions options, string name = "moe") => new(options, name);

        /// <summary>Creates a top-k MoE layer with the given shape; other settings keep their defaults.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="hiddenDim">Expert hidden width h.</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="name">Module name.</param>
        public static MoeLayer TopK(int inputDim, int hiddenDim, int numExperts = 8, int topK = 2, string name = "moe") =>
            new(new MoeLayerOptions { InputDim = inputDim, HiddenDim = hiddenDim, NumExperts = numExperts, TopK = topK }, name);

        /// <summary>
        /// Creates an Autonomy-of-Experts layer (SwiGLU experts of rank <paramref name="lowRank"/>, no z-loss); other settings
        /// keep their defaults. <see cref="MoeLayers.AutonomyOfExperts.ParameterMatchedHiddenDim"/> gives the hidden width
        /// that matches a standard SwiGLU expert's parameter count.
        /// </summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="hiddenDim">Expert hidden width h.</param>
        /// <param name="lowRank">Rank r of the factorized gate projection, in [1, d].</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="name">Module name.</param>
        public static MoeLayer AutonomyOfExperts(int inputDim, int hiddenDim, int lowRank, int numExperts = 8, int topK = 2, string name = "aoe") =>
            new(new MoeLayerOptions
            {
                InputDim = inputDim, HiddenDim = hiddenDim, LowRank = lowRank, NumExperts = numExperts, TopK = topK,
                Router = RouterKind.AutonomyOfExperts, Activation = ExpertActivation.SwiGlu, ZLossCoefficient = 0,
            }, name);
    }
}
