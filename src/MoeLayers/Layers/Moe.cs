using MoeLayers.Configuration;

namespace MoeLayers.Layers
{
    /// <summary>Factory methods for MoE layers, in the style of TorchSharp's <c>nn.Linear(...)</c>.</summary>
    public static class Moe
    {
        /// <summary>Creates the layer the options describe.</summary>
        /// <param name="options">Validated layer options.</param>
        /// <param name="name">Module name.</param>
        public static MoeLayerBase Create(MoeLayerOptions options, string name = "moe") => new MoeLayer(options, name);

        /// <summary>Creates a top-k MoE layer with the given shape; other settings keep their defaults.</summary>
        /// <param name="inputDim">Model width d.</param>
        /// <param name="hiddenDim">Expert hidden width h.</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="name">Module name.</param>
        public static MoeLayer TopK(int inputDim, int hiddenDim, int numExperts = 8, int topK = 2, string name = "moe") =>
            new(new MoeLayerOptions { InputDim = inputDim, HiddenDim = hiddenDim, NumExperts = numExperts, TopK = topK }, name);
    }
}
