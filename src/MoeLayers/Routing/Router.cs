using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Base of the learned routers: a bias-free linear map from d to E logits followed by a selection rule. The router's
    /// parameters and all of its math stay float32 whatever the model's dtype: a whole-model <c>.to(bfloat16)</c> moves
    /// them between devices but never converts them (the rule TorchSharp's own modules express by overriding
    /// <c>_to</c>). The router knows nothing of dispatch.
    /// </summary>
    internal abstract class Router : nn.Module<Tensor, RoutingResult>
    {
        [ComponentName(Name = "weight")]
        private readonly Parameter _weight;

        /// <summary>Creates the router weight with nn.Linear's default initialization, or zeros.</summary>
        private protected Router(string name, int inputDim, int numExperts, int topK, bool zeroInit)
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(numExperts, nameof(numExperts));
            Guard.InRange(topK, 1, numExperts, nameof(topK));
            InputDim = inputDim;
            NumExperts = numExperts;
            TopK = topK;
            _weight = Init.Parameter(zeroInit ? zeros(numExperts, inputDim, float32) : Init.Uniform(inputDim, numExperts, inputDim));
        }

        /// <summary>Model width d.</summary>
        public int InputDim { get; }

        /// <summary>Number of experts E.</summary>
        public int NumExperts { get; }

        /// <summary>Experts per token k.</summary>
        public int TopK { get; }

        /// <summary>The router weight W_r, float32 [E, d].</summary>
        public Parameter Weight => _weight;

        /// <summary>Routes T tokens x [T, d] (any floating dtype) to k experts each.</summary>
        public override RoutingResult forward(Tensor input)
        {
            Guard.Floating(input, nameof(input));
            Guard.HasShape(input, nameof(input), -1, InputDim);
            Guard.SameDevice(input, _weight.device, nameof(input));
            var input32 = input.to(float32);
            return Select(input32, Logits(input32));
        }

        /// <summary>Logits z = x·Wᵀ in float32 [T, E] of a float32 input [T, d].</summary>
        public virtual Tensor Logits(Tensor input32) => nn.functional.linear(input32, _weight);

        /// <summary>The selection rule: which k experts each token goes to, and with which weights.</summary>
        /// <param name="input32">The float32 input [T, d] (noisy routers compute their noise scale from it).</param>
        /// <param name="logits">Its logits <see cref="Logits"/> [T, E].</param>
        public abstract RoutingResult Select(Tensor input32, Tensor logits);

        /// <summary>Router parameters stay float32 under any dtype conversion of the model.</summary>
        protected override nn.Module _to(ScalarType dtype, bool non_blocking) => this;

        /// <summary>Moves to <paramref name="device"/> but keeps float32, whatever <paramref name="dtype"/> asks.</summary>
        protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking) =>
            _to(device.type, device.index, non_blocking);

        /// <summary>Top-k of full-softmax probabilities, optionally renormalized over the k picks.</summary>
        internal static (Tensor Indices, Tensor Weights) SoftmaxThenTopK(Tensor probabilities, int k, bool renormalize)
        {
            var (values, indices) = probabilities.topk(k, dim: -1);
            if (renormalize) values = values / values.sum(-1, keepdim: true);
            return (indices, values);
        }

        /// <summary>Top-k of logits, softmax over the k kept values (the others are −∞).</summary>
        internal static (Tensor Indices, Tensor Weights) TopKThenSoftmax(Tensor logits, int k)
        {
            var (values, indices) = logits.topk(k, dim: -1);
            return (indices, values.softmax(-1));
        }
    }
}
