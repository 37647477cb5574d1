using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The path shared by every MoE layer: check and flatten x [..., d] to [T, d], route (subclass), dispatch, compute the
    /// auxiliary loss and statistics, reshape to [..., out]. Usable inside nn.Sequential.
    /// <para>
    /// State a layer keeps between calls, besides its parameters: the auxiliary losses of its <c>forward</c> calls that
    /// <see cref="MoeAuxiliaryLoss.Collect"/> has not yet taken (training with gradients only), and the
    /// <see cref="Statistics"/> of its latest forward. Nothing else: routing hands its result to dispatch as a value, so
    /// concurrent forwards of one layer in evaluation mode are safe, and an exception mid-forward leaves nothing behind.
    /// </para>
    /// </summary>
    public abstract class MoeLayerBase : nn.Module<Tensor, Tensor>
    {
        private readonly MoeLayerOptions _options;
        private readonly IExpertDispatcher _portableDispatcher;
        private readonly PendingAuxiliaryLosses _pendingLosses;
        private RoutingStatistics? _statistics;

        private protected MoeLayerBase(string name, MoeLayerOptions options)
            : base(Validate(name, options))
        {
            _options = options.Clone();
            _portableDispatcher = _options.Dispatch == DispatchStrategy.Reference
                ? new ReferenceDispatcher()
                : new SortedDispatcher(_options.Dispatch);
            _pendingLosses = new PendingAuxiliaryLosses(name);
        }

        /// <summary>A copy of the options the layer was built from.</summary>
        public MoeLayerOptions Options => _options.Clone();

        /// <summary>Model width d.</summary>
        public int InputDim => _options.InputDim;

        /// <summary>Expert hidden width h.</summary>
        public int HiddenDim => _options.HiddenDim;

        /// <summary>Output width.</summary>
        public int OutputDim => _options.EffectiveOutputDim;

        /// <summary>Number of experts E.</summary>
        public int NumExperts => _options.NumExperts;

        /// <summary>Experts per token k.</summary>
        public int TopK => _options.TopK;

        /// <summary>
        /// Routing statistics of the latest forward of this layer (from any thread), or null before the first forward or
        /// when <see cref="MoeLayerOptions.CollectStatistics"/> is off. Immutable: a later forward replaces it.
        /// </summary>
        public RoutingStatistics? Statistics => Volatile.Read(ref _statistics);

        /// <summary>The layer's options, for subclasses.</summary>
        private protected MoeLayerOptions LayerOptions => _options;

        /// <summary>
        /// Applies the layer to x [..., d]; returns [..., out]. In training with gradients enabled, the auxiliary loss of
        /// this call is kept until <see cref="MoeAuxiliaryLoss.Collect"/> takes it (a layer called twice contributes twice).
        /// </summary>
        public override Tensor forward(Tensor input) => forward(input, null);

        /// <summary>Applies the layer to x [..., d] with a token mask; see <see cref="Run"/> for the mask's meaning.</summary>
        /// <param name="input">Tokens [..., d].</param>
        /// <param name="tokenMask">Optional mask with x's leading shape (bool, or 0/1 values): 1 = real token, 0 = padding.</param>
        public Tensor forward(Tensor input, Tensor? tokenMask)
        {
            var output = Run(input, tokenMask);
            if (training && is_grad_enabled() && HasAuxiliaryLoss && output.AuxiliaryLoss.requires_grad)
                _pendingLosses.Add(output.AuxiliaryLoss);
            return output.Output;
        }

        /// <summary>
        /// Applies the layer to x [..., d] and returns every value of this forward explicitly: the output, the auxiliary
        /// loss, the routing decision and the statistics. Nothing is kept for <see cref="MoeAuxiliaryLoss.Collect"/>: add
        /// <see cref="MoeOutput.AuxiliaryLoss"/> to the task loss yourself.
        /// </summary>
        /// <param name="input">Tokens [..., d], on the layer's device and in its expert dtype.</param>
        /// <param name="tokenMask">Optional mask with x's leading shape, bool or holding only 0 and 1: 1 = real token,
        /// 0 = padding. Padding takes no expert capacity, gets a zero output, and is left out of the auxiliary losses and
        /// statistics.</param>
        public MoeOutput Run(Tensor input, Tensor? tokenMask = null)
        {
            ArgumentNullException.ThrowIfNull(input);
            var (device, dtype) = ParameterPlacement();
            Guard.Floating(input, nameof(input));
            if (input.dim() < 1 || input.shape[^1] != InputDim)
                throw new ArgumentException($"input must have shape [..., {InputDim}]; got {Guard.Shape(input)}.", nameof(input));
            Guard.SameDevice(input, device, nameof(input));
            Guard.DType(input, dtype, nameof(input));
            var lead = input.shape[..^1];
            var mask = TokenMask.From(tokenMask, lead, device, nameof(tokenMask));

            var flat = input.reshape(-1, InputDim);
            var path = DispatchAccelerators.Choose(_options.UseCudaDispatch, _options.Dispatch, flat, NumExperts, TopK,
                _portableDispatcher, () => DispatchAccelerators.Cuda);
            var tokens = flat.shape[0];
            var capacity = Capacity.Compute(training ? _options.CapacityFactor : _options.EvalCapacityFactor,
                mask?.RealCount ?? tokens, TopK, NumExperts, _options.MinCapacity);

            using var routed = Route(flat, path);
            var dispatched = path.Dispatcher.Dispatch(flat, routed, new DispatchRules(capacity, _options.DropPolicy, mask));
            var routing = routed.Routing;
            var (loadBalancing, zLoss) = tokens == 0 ? (Zero(flat.device), Zero(flat.device)) : AuxiliaryLosses(routing, mask);
            var auxiliary = _options.LoadBalancingCoefficient * loadBalancing + _options.ZLossCoefficient * zLoss;
            var statistics = _options.CollectStatistics ? CollectStatistics(routing, dispatched, loadBalancing, zLoss, mask) : null;
            if (statistics is not null) Volatile.Write(ref _statistics, statistics);

            var output = dispatched.Output.reshape(lead.Append(OutputDim).ToArray());
            return new MoeOutput(output, auxiliary, loadBalancing, zLoss, routing, statistics);
        }

        /// <summary>Takes the auxiliary losses of this layer's forwards that no one has collected yet.</summary>
        internal IReadOnlyList<Tensor> TakeAuxiliaryLosses() => _pendingLosses.Take();

        /// <summary>
        /// Loads a state dict after checking all of it: a missing key (strict), an unexpected key (strict), a wrong shape or a
        /// non-floating dtype mismatch throws an <see cref="ArgumentException"/> naming each key with the expected and the
        /// actual shape, and nothing is modified. Floating dtypes are converted, as PyTorch's load_state_dict does.
        /// </summary>
        /// <param name="source">Parameter and buffer values by state-dict name.</param>
        /// <param name="strict">Refuse missing and unexpected keys.</param>
        /// <param name="skip">Keys to leave alone.</param>
        public override (IList<string> missing_keys, IList<string> unexpected_keyes) load_state_dict(
            Dictionary<string, Tensor> source, bool strict = true, IList<string>? skip = null)
        {
            var (missing, unexpected) = MoeStateDict.Load(this, source, strict, skip);
            return (missing, unexpected);
        }

        /// <summary>
        /// Loads parameters saved with <c>save</c> (TorchSharp's format) after reading and checking all of them, so a file
        /// with a wrong key, shape or dtype throws naming the key and leaves the layer exactly as it was.
        /// </summary>
        /// <param name="reader">The reader positioned at the start of the saved state.</param>
        /// <param name="strict">Refuse missing and unexpected keys.</param>
        /// <param name="skip">Keys to leave alone.</param>
        /// <param name="loadedParameters">Receives, for every key in the file, whether the layer has it.</param>
        public override nn.Module load(BinaryReader reader, bool strict = true, IList<string>? skip = null,
            Dictionary<string, bool>? loadedParameters = null)
        {
            ArgumentNullException.ThrowIfNull(reader);
            using var scope = NewDisposeScope();
            var saved = MoeStateDict.ReadTorchSharpFormat(reader);
            MoeStateDict.Load(this, saved, strict, skip, exactDTypes: true);
            if (loadedParameters is not null)
            {
                var keys = state_dict().Keys.ToHashSet();
                foreach (var key in saved.Keys) loadedParameters.Add(key, keys.Contains(key));
            }
            return this;
        }

        /// <summary>Routes flat tokens [T, d] and hands dispatch everything it needs for this forward.</summary>
        /// <param name="flat">Tokens [T, d].</param>
        /// <param name="path">This forward's dispatch path (its accelerator may make the routing too).</param>
        private protected abstract RoutedTokens Route(Tensor flat, DispatchPath path);

        /// <summary>Device and dtype of the expert parameters, which inputs must match.</summary>
        private protected abstract (Device Device, ScalarType DType) ParameterPlacement();

        /// <summary>
        /// With <see cref="MoeLayerOptions.CheckFinite"/> on, throws when the input or the routing scores hold NaN or Inf,
        /// naming the layer and the tensor, before any expert is picked from them. One host sync.
        /// </summary>
        /// <param name="input">The layer's flat input [T, d].</param>
        /// <param name="scores">The scores the experts are picked from [T, E].</param>
        /// <param name="scoresName">What the scores are, for the message.</param>
        private protected void ThrowIfNotFinite(Tensor input, Tensor scores, string scoresName)
        {
            if (!_options.CheckFinite) return;
            using var scope = NewDisposeScope();
            var finite = HostCopy.ToArray<bool>(stack(new[] { input.isfinite().all(), scores.isfinite().all() }));
            if (!finite[0])
                throw new ArgumentException(
                    $"MoE layer '{GetName()}': the input holds {NonFinite(input)} NaN or Inf value(s) of {input.numel()}; routing refuses it (CheckFinite is on).",
                    "input");
            if (!finite[1])
                throw new InvalidOperationException(
                    $"MoE layer '{GetName()}': the {scoresName} hold {NonFinite(scores)} NaN or Inf value(s) of {scores.numel()} although the input is finite; " +
                    "the routing weights have likely diverged (CheckFinite is on).");
        }

        private static long NonFinite(Tensor t) => t.isfinite().logical_not().sum().item<long>();

        /// <summary>Load-balancing and z-loss terms before coefficients; zero scalars when disabled.</summary>
        private protected virtual (Tensor LoadBalancing, Tensor ZLoss) AuxiliaryLosses(RoutingResult routing, TokenMask? mask)
        {
            var zero = Zero(routing.Logits.device);
            var mask32 = mask?.Values32;
            var loadBalancing = _options.LoadBalancingLoss switch
            {
                LoadBalancingLossKind.Switch => SwitchLoadBalancingLoss.ComputeChecked(routing, mask32),
                LoadBalancingLossKind.ImportanceLoad => ImportanceLoadLoss.ComputeChecked(routing, mask32),
                _ => zero,
            };
            var z = _options.ZLossCoefficient > 0 ? RouterZLoss.ComputeChecked(routing, mask32) : zero;
            return (loadBalancing, z);
        }

        private bool HasAuxiliaryLoss =>
            (_options.LoadBalancingLoss != LoadBalancingLossKind.None && _options.LoadBalancingCoefficient > 0) || _options.ZLossCoefficient > 0;

        private static Tensor Zero(Device device) => zeros(Array.Empty<long>(), ScalarType.Float32, device);

        private static RoutingStatistics CollectStatistics(RoutingResult routing, DispatchOutput dispatched, Tensor loadBalancing,
            Tensor zLoss, TokenMask? mask)
        {
            using var scope = NewDisposeScope();
            var p = routing.Probabilities.detach();
            var perToken = -(p * p.clamp_min(1e-30).log()).sum(1);
            var realTokens = mask?.RealCount ?? p.shape[0];
            var entropy = realTokens == 0 ? Zero(p.device)
                : mask is null ? perToken.mean() : (perToken * mask.Values32).sum() / realTokens;
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
