using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Base of the learned routers: a linear map from d to E logits (bias-free, or with a bias for the top-k router's
    /// <see cref="MoeLayerOptions.RouterBias"/>) followed by a selection rule. The router's
    /// parameters and all of its math stay float32 whatever the model's dtype: a whole-model <c>.to(bfloat16)</c> moves
    /// them between devices but never converts them (the rule TorchSharp's own modules express by overriding
    /// <c>_to</c>). The router knows nothing of dispatch, and k comes with each call: the layer holds it.
    /// </summary>
    internal abstract class Router : nn.Module<Tensor, int, RoutingResult>, IRouting
    {
        [ComponentName(Name = "weight")]
        private readonly Parameter _weight;

        [ComponentName(Name = "bias")]
        private readonly Parameter? _bias;

        /// <summary>
        /// Creates the router weight with nn.Linear's default initialization, or zeros, and with <paramref name="bias"/> a
        /// float32 bias [E] of zeros (so the initial routing is the bias-free one and no random draw is spent on it).
        /// </summary>
        private protected Router(string name, int inputDim, int numExperts, bool zeroInit, bool bias = false)
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(numExperts, nameof(numExperts));
            InputDim = inputDim;
            NumExperts = numExperts;
            _weight = Init.Parameter(zeroInit ? zeros(numExperts, inputDim, float32) : Init.Uniform(inputDim, numExperts, inputDim));
            if (bias) _bias = Init.Parameter(zeros(numExperts, float32));
        }

        /// <summary>Model width d.</summary>
        public int InputDim { get; }

        /// <summary>Number of experts E.</summary>
        public int NumExperts { get; }

        /// <summary>The router weight W_r, float32 [E, d].</summary>
        public Parameter Weight => _weight;

        /// <summary>The router bias b_r, float32 [E] (<see cref="MoeLayerOptions.RouterBias"/>), else null.</summary>
        public Parameter? Bias => _bias;

        /// <summary>Routes T tokens x [T, d] (any floating dtype) to k experts each.</summary>
        /// <param name="input">Tokens [T, d].</param>
        /// <param name="topK">Experts per token k, in [1, E].</param>
        public override RoutingResult forward(Tensor input, int topK)
        {
            Guard.Floating(input, nameof(input));
            Guard.HasShape(input, nameof(input), -1, InputDim);
            Guard.SameDevice(input, _weight.device, nameof(input));
            Guard.InRange(topK, 1, NumExperts, nameof(topK));
            var input32 = input.to(float32);
            return Select(input32, Logits(input32), topK, null);
        }

        /// <inheritdoc />
        public virtual RoutedTokens Route(Tensor flat, RoutingRequest request)
        {
            var input32 = flat.to(float32);
            var logits = Logits(input32);
            request.Finite?.Check(flat, logits, "router logits");
            return new RoutedTokens(Select(input32, logits, request.TopK, request.Mask), Experts(request));
        }

        /// <summary>The experts a learned router's tokens go to: the layer's.</summary>
        private protected static IExpertBank Experts(RoutingRequest request) =>
            request.Experts ?? throw new System.InvalidOperationException("A learned router needs the layer's experts in the routing request.");

        /// <summary>Logits z = x·Wᵀ (+ b) in float32 [T, E] of a float32 input [T, d]: what every selection, fused or not, reads.</summary>
        public virtual Tensor Logits(Tensor input32) => nn.functional.linear(input32, _weight, _bias);

        /// <summary>The selection rule: which k experts each token goes to, and with which weights.</summary>
        /// <param name="input32">The float32 input [T, d] (noisy routers compute their noise scale from it).</param>
        /// <param name="logits">Its logits <see cref="Logits"/> [T, E].</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="mask">Which tokens are real, or null (only expert choice reads it: it must not pick padding).</param>
        public abstract RoutingResult Select(Tensor input32, Tensor logits, int topK, TokenMask? mask);

        /// <summary>Router parameters stay float32 under any dtype conversion of the model.</summary>
        protected override nn.Module _to(ScalarType dtype, bool non_blocking) => this;

        /// <summary>Moves to <paramref name="device"/> but keeps float32, whatever <paramref name="dtype"/> asks.</summary>
        protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking) =>
            _to(device.type, device.index, non_blocking);

        /// <summary>Top-k of logits, softmax over the k kept values (the others are −∞).</summary>
        internal static (Tensor Indices, Tensor Weights) TopKThenSoftmax(Tensor logits, int k)
        {
            var (values, indices) = logits.topk(k, dim: -1);
            return (indices, values.softmax(-1));
        }
    }
}
