using System;
using MoeLayers.Internal;
using MoeLayers.Native;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Routing
{
    /// <summary>
    /// Base class of learned routers: a bias-free linear map from d to E logits, computed in float32 whatever the
    /// input precision, followed by a selection rule that subclasses define.
    /// </summary>
    public abstract class Router : nn.Module<Tensor, RoutingResult>
    {
        /// <summary>Router weight W_r, float32 [E, d] (state_dict name "weight").</summary>
        [ComponentName(Name = "weight")]
        protected readonly Parameter RouterWeight;

        /// <summary>Creates the router weight with nn.Linear's default initialization, or zeros.</summary>
        protected Router(string name, long inputDim, int numExperts, int topK, bool zeroInit)
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(numExperts, nameof(numExperts));
            Guard.InRange(topK, 1, numExperts, nameof(topK));
            InputDim = inputDim;
            NumExperts = numExperts;
            TopK = topK;
            RouterWeight = new Parameter(zeroInit
                ? zeros(numExperts, inputDim, float32)
                : Init.Uniform(inputDim, numExperts, inputDim));
        }

        /// <summary>Model width d.</summary>
        public long InputDim { get; }

        /// <summary>Number of experts E.</summary>
        public int NumExperts { get; }

        /// <summary>Experts per token k.</summary>
        public int TopK { get; }

        /// <summary>The router weight W_r, float32 [E, d].</summary>
        public Parameter Weight => RouterWeight;

        /// <summary>Routes T tokens x [T, d] (any floating dtype) to k experts each.</summary>
        public override RoutingResult forward(Tensor input)
        {
            Guard.Floating(input, nameof(input));
            Guard.HasShape(input, nameof(input), -1, InputDim);
            Guard.SameDevice(input, RouterWeight.device, nameof(input));
            return Route(input.to(float32));
        }

        /// <summary>Selection rule applied to a float32 input [T, d].</summary>
        protected abstract RoutingResult Route(Tensor input32);

        /// <summary>Logits z = x·Wᵀ in float32 [T, E].</summary>
        protected Tensor Logits(Tensor input32) => nn.functional.linear(input32, RouterWeight);

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
