using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A routed Mixture-of-Experts feed-forward layer, built from parts: a routing part picks k experts per token (the
    /// top-k family in the Mixtral/Qwen/DeepSeek variants, noisy top-k, Switch, expert choice, or Autonomy-of-Experts'
    /// self-routing), a dispatch part runs each expert on its rows and combines the outputs with the routing weights (the
    /// portable sorted dispatch, the fused CUDA dispatch, or expert parallelism over ranks), optional shared experts add a
    /// dense FFN's output for every token, and a loss part forms the auxiliary losses. Shapes [..., d] → [..., out]; works
    /// anywhere a <c>Module&lt;Tensor, Tensor&gt;</c> does. The router's parameters, buffers and math stay float32 under
    /// any <c>.to(dtype)</c>; the experts take the model's dtype.
    /// <para>
    /// State dict names: router.weight (router.bias with RouterBias, router.noise_weight, router.correction_bias: the
    /// balance bias), experts.w_in, experts.w_gate, experts.w_out, experts.b_in, experts.b_gate, experts.b_out
    /// (Autonomy-of-Experts: experts.w_down, experts.w_up, experts.w_in, experts.w_out; int8 experts, see
    /// <see cref="MoeLayerOptions.Int8Experts"/>: experts.w_in, .w_gate, .w_out as int8 plus experts.w_in_scale,
    /// .w_gate_scale, .w_out_scale), shared_experts.w_in, .w_gate, .w_out, .b_in, .b_gate, .b_out, .gate; with
    /// <see cref="MoeLayerOptions.Lora"/> also experts.lora.a_in, .b_in, .a_gate, .b_gate, .a_out, .b_out and
    /// shared_experts.lora.* (<see cref="MoeLora"/>).
    /// </para>
    /// <para>
    /// Expert compute per call: a call that needs no autograd graph (evaluation under no_grad, or no tensor requiring
    /// gradients) on the CPU with at most 8 rows per expert runs the decode kernels, which stream each routed expert's
    /// weights once (float32, bfloat16 or int8; MOELAYERS_CPU_DECODE=0 turns them off) unless the experts carry LoRA
    /// adapters that are not merged (<see cref="MoeLora"/>), which the kernels do not compute; every other call the
    /// grouped products.
    /// </para>
    /// <para>
    /// State a layer keeps between calls, besides its parameters and buffers: the auxiliary losses of its <c>forward</c>
    /// calls that <see cref="MoeAuxiliaryLoss.Collect"/> has not yet taken (training with gradients only), the per-expert
    /// loads of its training forwards since the last <see cref="MoeLoadBalancing.AfterOptimizerStep"/>, and the
    /// <see cref="Statistics"/> of its latest <c>forward</c>. <see cref="Run"/> keeps nothing. Routing hands its result to
    /// dispatch as a value, so concurrent forwards of one layer in evaluation mode are safe.
    /// </para>
    /// </summary>
    public sealed class MoeLayer : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "router")]
        private readonly IRouting _routing;

        [ComponentName(Name = "experts")]
        private readonly nn.Module _experts;

        [ComponentName(Name = "shared_experts")]
        private readonly SharedExperts? _sharedExperts;

        private readonly MoeLayerOptions _options;
        private readonly DispatchPaths _dispatch;
        private readonly LayerLosses _losses;
        private readonly FiniteCheck? _finite;
        private readonly PendingAuxiliaryLosses _pendingLosses;
        private readonly ExpertLoads _loads;
        private RoutingStatistics? _statistics;

        /// <summary>Creates the layer from validated options; throws <see cref="ArgumentException"/> naming each bad field.</summary>
        /// <param name="options">Layer options.</param>
        /// <param name="name">Module name.</param>
        public MoeLayer(MoeLayerOptions options, string name = "moe")
            : this(options, name, dispatcher: null, firstExpert: 0, localExperts: options?.NumExperts ?? 0)
        {
        }

        /// <summary>
        /// Creates a layer holding experts [<paramref name="firstExpert"/>, <paramref name="firstExpert"/> +
        /// <paramref name="localExperts"/>) of E and reaching the others through <paramref name="dispatcher"/> (expert
        /// parallelism), or all of them with a null dispatcher.
        /// </summary>
        internal MoeLayer(MoeLayerOptions options, string name, IExpertDispatcher? dispatcher, int firstExpert, int localExperts)
            : base(Checked(name, options))
        {
            _options = options.Clone();
            FirstExpert = firstExpert;
            LocalExperts = localExperts;
            // A learned router draws its initial weights before the experts (as in 0.2), so a seed gives the same model.
            var experts = new Lazy<nn.Module>(() => ExpertBanks.Create(_options, localExperts));
            _routing = Routings.Create(_options, experts);
            _experts = experts.Value;
            if (_options.SharedExperts > 0)
                _sharedExperts = new SharedExperts(_options.SharedExperts, _options.InputDim, _options.EffectiveSharedHiddenDim,
                    _options.EffectiveOutputDim, ActivationFunction.From(_options), _options.ExpertBias, _options.SharedExpertGate,
                    _options.Lora is { AdaptSharedExperts: true } lora ? lora : null);
            _dispatch = new DispatchPaths(_options, dispatcher);
            _losses = new LayerLosses(_options);
            _finite = _options.CheckFinite ? new FiniteCheck(name) : null;
            _pendingLosses = new PendingAuxiliaryLosses(name);
            MetricsName = MoeMetrics.DefaultName(name);
            _loads = new ExpertLoads(_options.NumExperts);
            RegisterComponents();
            if (_options.Lora is { } adapted) MoeLora.FreezeBase(this, adapted);
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

        /// <summary>The first of the experts this process holds: 0, or an expert-parallel rank's first expert.</summary>
        public int FirstExpert { get; }

        /// <summary>Experts this process holds: E, or E / world size under expert parallelism.</summary>
        public int LocalExperts { get; }

        /// <summary>
        /// The name that tags this layer's metrics (<see cref="MoeMetrics"/>): by default the module name and a number
        /// unique in the process ("moe#2"), so two layers are two series; <see cref="NameMetricsByPath"/> sets
        /// every layer of a model to its path in it ("blocks.3.moe").
        /// </summary>
        public string MetricsName { get; set; }

        /// <summary>
        /// Tags every MoE layer of <paramref name="model"/> with its path in it (<see cref="MetricsName"/>, e.g.
        /// "blocks.3.moe"; the model itself, if it is a layer, with its module name), so a model's layers are told apart
        /// in <see cref="MoeMetrics"/> by a name that says where they are. Call it once after building the model.
        /// </summary>
        /// <param name="model">Any module containing MoE layers.</param>
        public static void NameMetricsByPath(nn.Module model)
        {
            ArgumentNullException.ThrowIfNull(model);
            if (model is MoeLayer self) self.MetricsName = self.GetName();
            foreach (var (path, module) in model.named_modules())
            {
                if (module is MoeLayer layer) layer.MetricsName = path;
            }
        }

        /// <summary>
        /// Routing statistics of the latest <c>forward</c> of this layer (from any thread), or null before the first one
        /// or when <see cref="MoeLayerOptions.CollectStatistics"/> is off. Immutable: a later forward replaces it.
        /// </summary>
        public RoutingStatistics? Statistics => Volatile.Read(ref _statistics);

        /// <summary>The learned router (tests and benchmarks); Autonomy-of-Experts has none.</summary>
        internal Router Router => _routing as Router ?? throw new InvalidOperationException($"MoE layer '{GetName()}' routes with {_routing.GetType().Name}, not a learned router.");

        /// <summary>The routing part.</summary>
        internal IRouting Routing => _routing;

        /// <summary>The experts (tests and benchmarks); Autonomy-of-Experts layers have <see cref="LowRankExperts"/>.</summary>
        internal ExpertBank Experts => _experts as ExpertBank ?? throw new InvalidOperationException($"MoE layer '{GetName()}' holds {_experts.GetType().Name}.");

        /// <summary>The Autonomy-of-Experts experts (tests and benchmarks).</summary>
        internal LowRankExpertBank LowRankExperts => _experts as LowRankExpertBank ?? throw new InvalidOperationException($"MoE layer '{GetName()}' holds {_experts.GetType().Name}.");

        /// <summary>The shared experts (tests), or null.</summary>
        internal SharedExperts? Shared => _sharedExperts;

        /// <summary>The dispatcher every forward uses (expert parallelism), or null.</summary>
        internal IExpertDispatcher? FixedDispatcher => _dispatch.Only;

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
            var keepsLosses = training && is_grad_enabled() && _losses.Any;
            var (result, assigned) = Forward(input, tokenMask, keepsLosses || _options.CollectStatistics);
            if (training) _loads.Add(assigned);
            if (keepsLosses && result.AuxiliaryLoss.requires_grad)
            {
                var (fixedTerms, coefficient) = _losses.PendingTerms(result.Losses);
                _pendingLosses.Add(fixedTerms, result.Losses.GlobalBatch, coefficient);
            }
            if (result.Statistics is { } statistics)
            {
                Volatile.Write(ref _statistics, statistics);
                MoeMetrics.Record(MetricsName, statistics);
            }
            return result.Output;
        }

        /// <summary>
        /// Applies the layer to x [..., d] and returns every value of this forward explicitly: the output, the auxiliary
        /// loss, the routing decision and the statistics. Keeps nothing: no loss for <see cref="MoeAuxiliaryLoss.Collect"/>
        /// (add <see cref="MoeOutput.AuxiliaryLoss"/> to the task loss yourself), no loads for
        /// <see cref="MoeLoadBalancing.AfterOptimizerStep"/>, no <see cref="Statistics"/>, no metrics.
        /// </summary>
        /// <param name="input">Tokens [..., d], on the layer's device and in its expert dtype.</param>
        /// <param name="tokenMask">Optional mask with x's leading shape, bool or holding only 0 and 1: 1 = real token,
        /// 0 = padding. Padding takes no expert capacity, gets a zero output, and is left out of the auxiliary losses and
        /// statistics.</param>
        public MoeOutput Run(Tensor input, Tensor? tokenMask = null) => Forward(input, tokenMask, lossesWanted: true).Result;

        /// <summary>One forward, top to bottom: checks, dispatch path, route, dispatch, shared experts, losses, statistics.</summary>
        private (MoeOutput Result, long[] Assigned) Forward(Tensor input, Tensor? tokenMask, bool lossesWanted)
        {
            var (flat, lead, mask) = CheckedTokens(input, tokenMask);
            var k = training ? TopK : EvalTopK;
            var path = _dispatch.Choose(flat, NumExperts, k);
            using var routed = _routing.Route(flat, new RoutingRequest(k, mask, path.Accelerator, _experts as IExpertBank, _finite));
            var dispatched = path.Dispatcher.Dispatch(flat, routed, Rules(mask?.RealCount ?? flat.shape[0], k, routed.RouterCapacity, mask));
            var output = dispatched.Output;
            if (_sharedExperts?.call(flat) is { } shared)
                output = output + (mask is { HasPadding: true } ? shared * mask.Values32.unsqueeze(1).to(shared.dtype) : shared);
            var losses = lossesWanted
                ? _losses.Measure(routed.Routing, dispatched, mask, Sequences(lead), training && _losses.GlobalBatch ? _loads.Snapshot() : null)
                : LayerLosses.Zero(flat.device);
            var statistics = _options.CollectStatistics ? MeasureStatistics(routed, dispatched, losses, mask, path.Dispatcher) : null;
            return (new MoeOutput(output.reshape([.. lead, OutputDim]), losses, routed.Routing, statistics), dispatched.AssignedPerExpert);
        }

        /// <summary>The checked input flattened to [T, d], its leading shape and its checked mask.</summary>
        private (Tensor Flat, long[] Lead, TokenMask? Mask) CheckedTokens(Tensor input, Tensor? tokenMask)
        {
            ArgumentNullException.ThrowIfNull(input);
            var weight = ExpertBanks.InputWeight(_experts);
            if (weight.device_type == DeviceType.META)
                throw new InvalidOperationException(
                    $"MoE layer '{GetName()}' is on the meta device: its parameters have shapes but no storage. Load its weights " +
                    "(load_state_dict or MoeStateDict.Load) after moving it to a real device, e.g. layer.to(CPU), before calling it.");
            Guard.Floating(input, nameof(input));
            if (input.dim() < 1 || input.shape[^1] != InputDim)
                throw new ArgumentException($"input must have shape [..., {InputDim}]; got {Guard.Shape(input)}.", nameof(input));
            Guard.SameDevice(input, weight.device, nameof(input));
            Guard.DType(input, weight.dtype, nameof(input));
            var lead = input.shape[..^1];
            return (input.reshape(-1, InputDim), lead, TokenMask.From(tokenMask, lead, weight.device, nameof(tokenMask)));
        }

        /// <summary>
        /// Capacity, drop policy and where the weights apply, for this forward; no capacity of the layer's own when the router
        /// applied one (expert choice).
        /// </summary>
        private DispatchRules Rules(long realTokens, int k, long? routerCapacity, TokenMask? mask)
        {
            var factor = routerCapacity is null ? (training ? _options.CapacityFactor : _options.EvalCapacityFactor) : null;
            return new DispatchRules(Capacity.Compute(factor, realTokens, k, NumExperts, _options.MinCapacity), _options.DropPolicy, mask)
            {
                CapacityFactor = factor,
                MinCapacity = _options.MinCapacity,
                WeightExpertInputs = _options.WeightExpertInputs,
            };
        }

        /// <summary>Sequences the tokens form: the product of the leading shape without its last dimension (1 for [T, d]).</summary>
        private static long Sequences(long[] lead) => lead.Length >= 2 ? lead[..^1].Aggregate(1L, (a, b) => a * b) : 1;

        /// <summary>The forward's statistics over the whole batch (every rank's, summed by the dispatcher, under expert parallelism).</summary>
        private RoutingStatistics MeasureStatistics(RoutedTokens routed, DispatchOutput dispatched, MeasuredLosses losses, TokenMask? mask,
            IExpertDispatcher dispatcher)
        {
            double[] local;
            using (NewDisposeScope())
            {
                var p = routed.Routing.Probabilities.detach().to(ScalarType.Float64);
                var perToken = -(p * p.clamp_min(1e-30).log()).sum(1);
                var entropySum = mask is null ? perToken.sum() : (perToken * mask.Values32.to(ScalarType.Float64)).sum();
                local = HostCopy.ToArray<double>(stack(new[] { entropySum, losses.LoadBalancing.detach().to(ScalarType.Float64), losses.ZLoss.detach().to(ScalarType.Float64) }));
            }
            var sums = dispatcher.SumOverRanks(local);
            var ranks = dispatched.Ranks;
            var bias = _routing.BalanceBias is { } b ? HostCopy.ToArray<float>(b) : null;
            return new RoutingStatistics(dispatched.AssignedPerExpert, dispatched.KeptPerExpert, routed.RouterCapacity ?? dispatched.Capacity,
                dispatched.BatchTokens == 0 ? 0 : sums[0] / dispatched.BatchTokens, sums[1] / ranks, sums[2] / ranks, bias,
                _options.Router == RouterKind.TopK ? _options.ExpertGroups : 1);
        }

        /// <summary>Ends a balancing step: moves the balance bias by the loads counted since the last call, and resets them.</summary>
        internal void EndBalanceStep()
        {
            var loads = _loads.TakeAndReset();
            _routing.MoveBalanceBias(loads, _options.BalanceBiasRate);
            if (_routing.BalanceBias is { } bias) MoeMetrics.RecordBias(MetricsName, HostCopy.ToArray<float>(bias));
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
            MoeLora.Reloaded(this, source.Keys.Except(skip ?? []));
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
            MoeLora.Reloaded(this, saved.Keys.Except(skip ?? []));
            if (loadedParameters is not null)
            {
                var keys = state_dict().Keys.ToHashSet();
                foreach (var key in saved.Keys) loadedParameters.Add(key, keys.Contains(key));
            }
            return this;
        }

        private static string Checked(string name, MoeLayerOptions options)
        {
            MoeLayerOptionsValidator.ThrowIfInvalid(options);
            return TorchSharpNative.Checked(name);
        }
    }
}
