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
    /// State a layer keeps between calls, besides its parameters and buffers: the auxiliary losses of its <c>forward</c>
    /// calls that <see cref="MoeAuxiliaryLoss.Collect"/> has not yet taken (training with gradients only), the per-expert
    /// loads of its training forwards since the last <see cref="MoeLoadBalancing.AfterOptimizerStep"/> (for aux-loss-free
    /// and global-batch balancing), and the <see cref="Statistics"/> of its latest forward. Nothing else: routing hands its
    /// result to dispatch as a value, so concurrent forwards of one layer in evaluation mode are safe, and an exception
    /// mid-forward leaves nothing behind.
    /// </para>
    /// </summary>
    public abstract class MoeLayerBase : nn.Module<Tensor, Tensor>
    {
        private readonly MoeLayerOptions _options;
        private readonly IExpertDispatcher _portableDispatcher;
        private readonly PendingAuxiliaryLosses _pendingLosses;
        private readonly ExpertLoads _loads;
        private RoutingStatistics? _statistics;

        private protected MoeLayerBase(string name, MoeLayerOptions options)
            : base(Validate(name, options))
        {
            _options = options.Clone();
            _portableDispatcher = _options.Dispatch == DispatchStrategy.Reference
                ? new ReferenceDispatcher()
                : new SortedDispatcher(_options.Dispatch);
            _pendingLosses = new PendingAuxiliaryLosses(name);
            _loads = new ExpertLoads(_options.NumExperts);
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

        /// <summary>Experts per token k in training.</summary>
        public int TopK => _options.TopK;

        /// <summary>Experts per token in evaluation mode (<see cref="MoeLayerOptions.EvalTopK"/>, else k).</summary>
        public int EvalTopK => _options.EffectiveEvalTopK;

        /// <summary>Experts per token in the current mode.</summary>
        private protected int ActiveTopK => training ? TopK : EvalTopK;

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
            // An evaluation forward returns only the output: its losses are needed only for the statistics.
            var lossesWanted = (training && is_grad_enabled() && HasAuxiliaryLoss) || _options.CollectStatistics;
            var output = Forward(input, tokenMask, lossesWanted, out var globalBatch);
            if (training && is_grad_enabled() && HasAuxiliaryLoss && output.AuxiliaryLoss.requires_grad)
            {
                if (globalBatch is null) _pendingLosses.Add(output.AuxiliaryLoss);
                else _pendingLosses.Add(_options.ZLossCoefficient * output.ZLoss, globalBatch, _options.LoadBalancingCoefficient);
            }
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
        public MoeOutput Run(Tensor input, Tensor? tokenMask = null) => Forward(input, tokenMask, lossesWanted: true, out _);

        private MoeOutput Forward(Tensor input, Tensor? tokenMask, bool lossesWanted, out GlobalBatchBalance.Part? globalBatch)
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
            var output = Compute(flat, lead, mask, lossesWanted, out globalBatch);
            if (output.Statistics is { } statistics)
            {
                Volatile.Write(ref _statistics, statistics);
                MoeMetrics.Record(GetName(), statistics);
            }
            return output;
        }

        /// <summary>
        /// The forward on checked tokens: route, dispatch, auxiliary losses and statistics, in this process. A layer whose
        /// experts live elsewhere (expert parallelism) replaces all of it; the input checks, the pending losses of
        /// <c>forward</c> and the <see cref="Statistics"/> stay the base's.
        /// </summary>
        /// <param name="flat">Tokens [T, d], on the layer's device and in its expert dtype.</param>
        /// <param name="lead">The input's leading shape (the output is [..lead, out]).</param>
        /// <param name="mask">Which tokens are real, or null.</param>
        /// <param name="lossesWanted">Whether anything uses this forward's auxiliary losses (false: an evaluation forward
        /// without statistics, which may return zeros for them).</param>
        /// <param name="globalBatch">This forward's global-batch balance part, when that loss is on; else null.</param>
        private protected virtual MoeOutput Compute(Tensor flat, long[] lead, TokenMask? mask, bool lossesWanted, out GlobalBatchBalance.Part? globalBatch)
        {
            // Expert choice gives every token a variable number of experts, which only the TorchSharp dispatch handles.
            var mode = _options.Router == RouterKind.ExpertChoice ? CudaDispatchMode.Never : _options.UseCudaDispatch;
            var k = ActiveTopK;
            var path = DispatchAccelerators.Choose(mode, _options.Dispatch, flat, NumExperts, k, _portableDispatcher, () => DispatchAccelerators.Cuda);
            var tokens = flat.shape[0];
            var realTokens = mask?.RealCount ?? tokens;
            var capacity = Capacity.Compute(training ? _options.CapacityFactor : _options.EvalCapacityFactor,
                realTokens, k, NumExperts, _options.MinCapacity);

            using var routed = Route(flat, path, mask);
            var rules = new DispatchRules(routed.RouterCappedExperts ? null : capacity, _options.DropPolicy, mask);
            var dispatched = path.Dispatcher.Dispatch(flat, routed, rules);
            var output = dispatched.Output;
            if (SharedOutput(flat) is { } shared)
                output = output + (mask is { HasPadding: true } ? shared * mask.Values32.unsqueeze(1).to(shared.dtype) : shared);
            if (training) CountTrainingLoads(dispatched.AssignedPerExpert);

            var routing = routed.Routing;
            var sequences = lead.Length >= 2 ? lead[..^1].Aggregate(1L, (a, b) => a * b) : 1;
            var mask32 = mask?.Values32;
            globalBatch = lossesWanted && _options.LoadBalancingLoss == LoadBalancingLossKind.GlobalBatch
                ? GlobalBatchBalance.Measure(routing, mask32, realTokens) : null;
            var (loadBalancing, zLoss) = tokens == 0 || !lossesWanted ? (Zero(flat.device), Zero(flat.device))
                : AuxiliaryLosses(routing, mask32, sequences, globalBatch,
                    globalBatch is null ? dispatched.AssignedPerExpert : training ? _loads.Snapshot() : dispatched.AssignedPerExpert);
            var auxiliary = _options.LoadBalancingCoefficient * loadBalancing + _options.ZLossCoefficient * zLoss;
            var statistics = _options.CollectStatistics ? CollectStatistics(routing, dispatched, loadBalancing, zLoss, mask) : null;

            return new MoeOutput(output.reshape(lead.Append(OutputDim).ToArray()), auxiliary, loadBalancing, zLoss, routing, statistics);
        }

        /// <summary>Adds one training forward's (token, slot) pairs per expert to the loads of the current step.</summary>
        /// <param name="assignedPerExpert">Pairs routed to each of the E experts.</param>
        private protected void CountTrainingLoads(IReadOnlyList<long> assignedPerExpert) => _loads.Add(assignedPerExpert);

        /// <summary>Ends a balancing step: moves the balance bias by the loads counted since the last call, and resets them.</summary>
        internal void EndBalanceStep()
        {
            var loads = _loads.TakeAndReset();
            if (BalancedRouter is { CorrectionBias: { } bias } router)
            {
                router.UpdateCorrectionBias(loads, _options.BalanceBiasRate);
                MoeMetrics.RecordBias(GetName(), HostCopy.ToArray<float>(bias));
            }
        }

        /// <summary>Takes the auxiliary losses of this layer's forwards that no one has collected yet.</summary>
        internal Tensor? TakeAuxiliaryLosses() => _pendingLosses.Take(_loads.Snapshot);

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
        /// <param name="mask">Which tokens are real, or null (expert choice must not pick padding).</param>
        /// <remarks>Every layer that uses the base's <see cref="Compute"/> overrides it; one that replaces Compute need not.</remarks>
        private protected virtual RoutedTokens Route(Tensor flat, DispatchPath path, TokenMask? mask) =>
            throw new InvalidOperationException($"{GetType().Name} computes its forward itself and routes no tokens through {nameof(MoeLayerBase)}.{nameof(Route)}.");

        /// <summary>The always-on shared experts' output for all tokens [T, out], or null when the layer has none.</summary>
        private protected virtual Tensor? SharedOutput(Tensor flat) => null;

        /// <summary>The router whose aux-loss-free balance bias the loads move, or null.</summary>
        private protected virtual TopKRouter? BalancedRouter => null;

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
        /// <param name="routing">This forward's routing.</param>
        /// <param name="mask32">Checked float32 mask, or null.</param>
        /// <param name="sequences">Sequences the tokens form (for the sequence-wise loss).</param>
        /// <param name="globalBatch">This forward's global-batch part, when that loss is on.</param>
        /// <param name="stepCounts">Pairs per expert the global-batch frequencies come from: the step so far in training.</param>
        private (Tensor LoadBalancing, Tensor ZLoss) AuxiliaryLosses(RoutingResult routing, Tensor? mask32, long sequences,
            GlobalBatchBalance.Part? globalBatch, IReadOnlyList<long> stepCounts)
        {
            var zero = Zero(routing.Logits.device);
            var loadBalancing = _options.LoadBalancingLoss switch
            {
                LoadBalancingLossKind.Switch => SwitchLoadBalancingLoss.ComputeChecked(routing, mask32),
                LoadBalancingLossKind.ImportanceLoad => ImportanceLoadLoss.ComputeChecked(routing, mask32),
                LoadBalancingLossKind.SequenceWise => SequenceBalanceLoss.ComputeChecked(routing, sequences, mask32),
                // The step's counts so far, this forward's included: what Collect forms the loss with.
                LoadBalancingLossKind.GlobalBatch => GlobalBatchBalance.Loss(new[] { globalBatch! }, stepCounts, routing.Logits.device),
                _ => zero,
            };
            var z = _options.ZLossCoefficient > 0 ? RouterZLoss.ComputeChecked(routing, mask32) : zero;
            return (loadBalancing, z);
        }

        private bool HasAuxiliaryLoss =>
            (_options.LoadBalancingLoss != LoadBalancingLossKind.None && _options.LoadBalancingCoefficient > 0) || _options.ZLossCoefficient > 0;

        private static Tensor Zero(Device device) => zeros(Array.Empty<long>(), ScalarType.Float32, device);

        private RoutingStatistics CollectStatistics(RoutingResult routing, DispatchOutput dispatched, Tensor loadBalancing,
            Tensor zLoss, TokenMask? mask)
        {
            using var scope = NewDisposeScope();
            var p = routing.Probabilities.detach();
            var perToken = -(p * p.clamp_min(1e-30).log()).sum(1);
            var realTokens = mask?.RealCount ?? p.shape[0];
            var entropy = realTokens == 0 ? Zero(p.device)
                : mask is null ? perToken.mean() : (perToken * mask.Values32).sum() / realTokens;
            var values = HostCopy.ToArray<float>(stack(new[] { entropy, loadBalancing.detach(), zLoss.detach() }));
            var bias = BalancedRouter?.CorrectionBias is { } b ? HostCopy.ToArray<float>(b) : null;
            return new RoutingStatistics(dispatched.AssignedPerExpert, dispatched.KeptPerExpert, dispatched.Capacity,
                values[0], values[1], values[2], bias, _options.Router == RouterKind.TopK ? _options.ExpertGroups : 1);
        }

        private static string Validate(string name, MoeLayerOptions options)
        {
            MoeLayerOptionsValidator.ThrowIfInvalid(options);
            return TorchSharpNative.Checked(name);
        }
    }
}
