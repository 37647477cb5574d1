using System;
using System.Linq;
using MoeLayers.Configuration;
using MoeLayers.Diagnostics;
using MoeLayers.Dispatch;
using MoeLayers.Experts;
using MoeLayers.Internal;
using MoeLayers.Losses;
using MoeLayers.Native;
using MoeLayers.Routing;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Layers
{
    /// <summary>
    /// The path shared by every MoE layer: check and flatten x [..., d] to [T, d], route and dispatch (subclass),
    /// compute the auxiliary loss and statistics, reshape to [..., out]. Usable inside nn.Sequential.
    /// </summary>
    public abstract class MoeLayerBase : nn.Module<Tensor, Tensor>, IMoeLayer
    {
        private protected MoeLayerBase(string name, MoeLayerOptions options)
            : base(Validate(name, options))
        {
            Options = options.Clone();
            _portableDispatcher = Options.Dispatch == DispatchStrategy.Reference
                ? new ReferenceDispatcher()
                : new SortedDispatcher(Options.Dispatch);
        }

        private readonly IExpertDispatcher _portableDispatcher;

        /// <summary>A copy of the options the layer was built from.</summary>
        public MoeLayerOptions Options { get; }

        /// <summary>Model width d.</summary>
        public long InputDim => Options.InputDim;

        /// <summary>Output width.</summary>
        public long OutputDim => Options.EffectiveOutputDim;

        /// <summary>Number of experts E.</summary>
        public int NumExperts => Options.NumExperts;

        /// <summary>Experts per token k.</summary>
        public int TopK => Options.TopK;

        /// <inheritdoc />
        public Tensor? AuxiliaryLoss { get; private set; }

        /// <inheritdoc />
        public RoutingStatistics? Statistics { get; private set; }

        /// <inheritdoc />
        public RoutingResult? LastRouting { get; private set; }

        /// <summary>Applies the layer to x [..., d]; returns [..., out].</summary>
        public override Tensor forward(Tensor input) => forward(input, null);

        /// <summary>Applies the layer to x [..., d] with a token mask [...] (1 = real token, 0 = padding).</summary>
        /// <param name="input">Tokens [..., d].</param>
        /// <param name="tokenMask">Optional mask with x's leading shape; masked tokens are still computed but excluded from
        /// the auxiliary losses.</param>
        public Tensor forward(Tensor input, Tensor? tokenMask)
        {
            var (device, dtype) = ParameterPlacement();
            Guard.Floating(input, nameof(input));
            if (input.dim() < 1 || input.shape[^1] != InputDim)
                throw new ArgumentException($"input must have shape [..., {InputDim}]; got {Guard.Shape(input)}.", nameof(input));
            Guard.SameDevice(input, device, nameof(input));
            Guard.DType(input, dtype, nameof(input));
            var lead = input.shape[..^1];
            Tensor? flatMask = null;
            if (tokenMask is not null)
            {
                if (!tokenMask.shape.SequenceEqual(lead))
                    throw new ArgumentException($"tokenMask must have shape [{string.Join(", ", lead)}]; got {Guard.Shape(tokenMask)}.", nameof(tokenMask));
                Guard.SameDevice(tokenMask, device, nameof(tokenMask));
                flatMask = tokenMask.reshape(-1);
            }

            var flat = input.reshape(-1, InputDim);
            var routing = Route(flat);
            var tokens = flat.shape[0];
            var capacity = Capacity.Compute(training ? Options.CapacityFactor : Options.EvalCapacityFactor,
                tokens, TopK, NumExperts, Options.MinCapacity);
            var dispatched = Dispatch(flat, routing, capacity);

            var (loadBalancing, zLoss) = tokens == 0 ? (Zero(flat.device), Zero(flat.device)) : AuxiliaryLosses(routing, flatMask);
            AuxiliaryLoss = Options.LoadBalancingCoefficient * loadBalancing + Options.ZLossCoefficient * zLoss;
            LastRouting = routing;
            Statistics = Options.CollectStatistics ? CollectStatistics(routing, dispatched, loadBalancing, zLoss) : null;

            var outputShape = lead.Append(OutputDim).ToArray();
            return dispatched.Output.reshape(outputShape);
        }

        /// <summary>Routes flat tokens [T, d].</summary>
        private protected abstract RoutingResult Route(Tensor flat);

        /// <summary>Runs the experts on the routed tokens.</summary>
        private protected abstract DispatchOutput Dispatch(Tensor flat, RoutingResult routing, long? capacity);

        /// <summary>
        /// Runs <paramref name="experts"/> on the routed tokens through the fused CUDA dispatch when
        /// <see cref="MoeLayerOptions.UseCudaDispatch"/> and the input allow it, else through the portable dispatch.
        /// </summary>
        private protected DispatchOutput RunDispatch(Tensor flat, RoutingResult routing, IExpertBlocks experts, long? capacity) =>
            DispatchAccelerators.Choose(Options.UseCudaDispatch, Options.Dispatch, flat, NumExperts, TopK, _portableDispatcher, () => DispatchAccelerators.Cuda)
                .Dispatch(flat, routing, experts, capacity, Options.DropPolicy);

        /// <summary>Device and dtype of the expert parameters, which inputs must match.</summary>
        private protected abstract (Device Device, ScalarType DType) ParameterPlacement();

        /// <summary>Load-balancing and z-loss terms before coefficients; zero scalars when disabled.</summary>
        private protected virtual (Tensor LoadBalancing, Tensor ZLoss) AuxiliaryLosses(RoutingResult routing, Tensor? mask)
        {
            var zero = Zero(routing.Logits.device);
            var loadBalancing = Options.LoadBalancingLoss switch
            {
                LoadBalancingLossKind.Switch => SwitchLoadBalancingLoss.Compute(routing, mask),
                LoadBalancingLossKind.ImportanceLoad => ImportanceLoadLoss.Compute(routing, mask),
                _ => zero,
            };
            var z = Options.ZLossCoefficient > 0 ? RouterZLoss.Compute(routing, mask) : zero;
            return (loadBalancing, z);
        }

        private static Tensor Zero(Device device) => zeros(Array.Empty<long>(), ScalarType.Float32, device);

        private static RoutingStatistics CollectStatistics(RoutingResult routing, DispatchOutput dispatched, Tensor loadBalancing, Tensor zLoss)
        {
            using var scope = NewDisposeScope();
            var p = routing.Probabilities.detach();
            var entropy = p.shape[0] == 0 ? Zero(p.device) : -(p * p.clamp_min(1e-30).log()).sum(1).mean();
            var values = HostCopy.ToArray<float>(stack(new[] { entropy, loadBalancing.detach(), zLoss.detach() }));
            return new RoutingStatistics(dispatched.AssignedPerExpert, dispatched.KeptPerExpert, dispatched.Capacity,
                values[0], values[1], values[2]);
        }

        private static string Validate(string name, MoeLayerOptions options)
        {
            MoeLayerOptionsValidator.ThrowIfInvalid(options);
            return TorchSharpNative.Checked(name);
        }
    }
}
