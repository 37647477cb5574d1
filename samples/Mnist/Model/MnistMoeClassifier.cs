using System;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Mnist.Model
{
    /// <summary>
    /// The study's classifier: one MoE layer whose output is the 10 class logits. Takes images [B, 784] or [B, 28, 28]
    /// with pixels in [0, 1]. The layer's auxiliary loss (lc × gate loss) is collected with
    /// <see cref="MoeAuxiliaryLoss.Collect"/>, as in any model built from MoeLayers.
    /// </summary>
    public sealed class MnistMoeClassifier : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "moe")]
        private readonly MoeLayer _moe;

        /// <summary>Creates the model with freshly initialized weights (seed torch first for a reproducible start).</summary>
        /// <param name="settings">ne, k, lc and the router kind.</param>
        /// <exception cref="ArgumentException">The settings are invalid (e.g. k &gt; ne, or k &gt; 1 with Switch).</exception>
        public MnistMoeClassifier(MnistMoeSettings settings)
            : base("mnist_moe")
        {
            ArgumentNullException.ThrowIfNull(settings);
            settings.Validate();
            Settings = settings;
            _moe = MoeLayers.Moe.Create(settings.ToLayerOptions());
            RegisterComponents();
        }

        /// <summary>The settings the model was built from.</summary>
        public MnistMoeSettings Settings { get; }

        /// <summary>The MoE layer: its last routing decision, statistics and auxiliary loss.</summary>
        public MoeLayer Layer => _moe;

        /// <summary>Returns the logits [B, 10] for images [B, 784] or [B, 28, 28].</summary>
        public override Tensor forward(Tensor images) => _moe.call(Flatten(images));

        /// <summary>The logits [B, 10] and the layer's routing of the same forward (the auxiliary loss is not kept).</summary>
        /// <param name="images">Images [B, 784] or [B, 28, 28].</param>
        public (Tensor Logits, RoutingResult Routing) ForwardWithRouting(Tensor images)
        {
            var output = _moe.Run(Flatten(images));
            return (output.Output, output.Routing);
        }

        private static Tensor Flatten(Tensor images)
        {
            var width = MnistMoeSettings.InputDim;
            var pixels = images.dim() >= 2 ? images.shape[1..^0] : images.shape;
            long perImage = 1;
            foreach (var p in pixels) perImage *= p;
            if (images.dim() < 2 || perImage != width)
            {
                throw new ArgumentException(
                    $"images must have shape [B, {width}] or [B, 28, 28]; got [{string.Join(", ", images.shape)}].", nameof(images));
            }
            return images.reshape(images.shape[0], width);
        }
    }
}
