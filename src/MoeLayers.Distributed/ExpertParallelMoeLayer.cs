using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Text;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// An expert-parallel <see cref="MoeLayer"/>, itself a <see cref="MoeLayerBase"/> (so a model holding it works with
    /// <see cref="MoeAuxiliaryLoss.Collect"/>, <see cref="MoeLoadBalancing.AfterOptimizerStep"/>, <see cref="MoeLayerBase.Run"/>
    /// and <see cref="MoeLayerBase.Statistics"/> unchanged): the E experts are sharded over the communicator's ranks (rank r owns
    /// experts [r·E/W, (r+1)·E/W)), the router and shared experts are replicated. Each rank routes its own tokens with the
    /// full router; one all-gather of per-expert counts gives the global counts, the capacity and the drops, which equal
    /// those of one <see cref="MoeLayer"/> on all ranks' tokens concatenated in rank order; the kept (token, slot) rows go
    /// to their expert's rank with one all-to-all, the outputs return with a second, and are combined with the local
    /// routing weights. Backward runs the mirror exchanges (a collective: every rank calls backward, or none does).
    /// <para>
    /// Losses follow the data-parallel convention: each rank's <see cref="MoeOutput.AuxiliaryLoss"/> is W times its
    /// share of the one-process loss (f from the global counts, P summed over this rank's tokens divided by the global
    /// token count), so the mean over ranks equals the one-process loss, and the gradients averaged with
    /// <see cref="GradientAllReduce.Average"/> equal the one-process gradients when each rank's task loss is likewise
    /// W × its share (with equal token counts: the mean over its own tokens).
    /// </para>
    /// State dict: router.weight (router.correction_bias), experts.w_in [E/W, d, h], experts.w_gate, experts.w_out,
    /// experts.b_in, experts.b_out (this rank's experts only), shared_experts.* — <see cref="LoadShardFrom"/> takes this
    /// rank's part of a one-process layer's state dict. Supports the top-k (softmax or sigmoid, groups, balance bias) and
    /// Switch routers without jitter, Switch load-balancing and z-loss, dropless or capacity with
    /// <see cref="DropPolicy.ByPosition"/> or <see cref="DropPolicy.ByChoiceThenPosition"/>, no token mask. Every forward,
    /// <c>forward</c> and <see cref="MoeLayerBase.Run"/> alike, is a collective: all ranks call it, in the same order.
    /// </summary>
    public sealed class ExpertParallelMoeLayer : MoeLayerBase
    {
        [ComponentName(Name = "router")]
        private readonly Router _router;

        [ComponentName(Name = "experts")]
        private readonly ExpertBank _experts;

        [ComponentName(Name = "shared_experts")]
        private readonly SharedExperts? _sharedExperts;

        private readonly MoeLayerOptions _options;
        private readonly ICommunicator _communicator;

        /// <summary>
        /// Collective: builds this rank's shard. Every rank first checks, with one all-gather, that all ranks pass the same
        /// options (else every rank throws <see cref="CommunicatorMismatchException"/> naming the fields and ranks); then
        /// that the options are valid, supported, and that E divides by the world size (the same verdict on every rank).
        /// </summary>
        /// <param name="options">Layer options, the same on every rank.</param>
        /// <param name="communicator">The ranks the experts are sharded over.</param>
        /// <param name="name">Module name.</param>
        public ExpertParallelMoeLayer(MoeLayerOptions options, ICommunicator communicator, string name = "moe")
            : base(name, Agreed(options, communicator))
        {
            _communicator = communicator;
            _options = LayerOptions;
            var o = _options;
            LocalExperts = o.NumExperts / communicator.WorldSize;
            FirstExpert = communicator.Rank * LocalExperts;
            _router = o.Router == RouterKind.Switch
                ? new SwitchRouter(o.InputDim, o.NumExperts, o.SwitchJitter)
                : new TopKRouter(o.InputDim, o.NumExperts, o.TopK, TopKRule.From(o));
            _experts = new ExpertBank(LocalExperts, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.Activation, o.ExpertBias, o.MemoryOptimizedExperts);
            if (o.SharedExperts > 0)
                _sharedExperts = new SharedExperts(o.SharedExperts, o.InputDim, o.EffectiveSharedHiddenDim, o.EffectiveOutputDim, o.Activation,
                    o.ExpertBias, o.SharedExpertGate);
            RegisterComponents();
        }

        /// <summary>The communicator the experts are sharded over.</summary>
        public ICommunicator Communicator => _communicator;

        /// <summary>Experts this rank owns: E / world size.</summary>
        public int LocalExperts { get; }

        /// <summary>Global index of this rank's first expert: rank · E / world size.</summary>
        public int FirstExpert { get; }

        /// <summary>Parameters that are this rank's own expert shard (not replicated): excluded from gradient averaging.</summary>
        internal IEnumerable<TorchSharp.Modules.Parameter> ExpertShardParameters() => _experts.parameters();

        /// <summary>
        /// Loads this rank's part of a one-process <see cref="MoeLayer"/>'s state dict (same options): router and shared
        /// experts as they are, and rows [FirstExpert, FirstExpert + LocalExperts) of every experts.* tensor. Checked like
        /// <see cref="MoeLayerBase.load_state_dict"/> (strict: names and shapes).
        /// </summary>
        /// <param name="fullStateDict">A one-process layer's state dict, e.g. <c>moeLayer.state_dict()</c>.</param>
        public void LoadShardFrom(IReadOnlyDictionary<string, Tensor> fullStateDict)
        {
            ArgumentNullException.ThrowIfNull(fullStateDict);
            using var scope = NewDisposeScope();
            var shard = new Dictionary<string, Tensor>();
            foreach (var (key, value) in fullStateDict)
            {
                if (key.StartsWith("experts.", StringComparison.Ordinal))
                {
                    if (value.dim() < 1 || value.shape[0] != NumExperts)
                        throw new ArgumentException($"{key} must have {NumExperts} experts in its first dimension; got {string.Join(", ", value.shape)}.", nameof(fullStateDict));
                    shard[key] = value.narrow(0, FirstExpert, LocalExperts);
                }
                else
                {
                    shard[key] = value;
                }
            }
            MoeStateDict.Load(this, shard);
        }

        /// <summary>
        /// Collective: this rank's tokens [T, d] (the base has checked their shape, dtype and device) through the full
        /// router, the global plan, the two exchanges and the local combine; the auxiliary losses in the data-parallel
        /// convention and the statistics from the global counts (the same on every rank).
        /// </summary>
        // The losses are always formed: their counts are all-reduced, and every rank must take part whatever it needs.
        private protected override MoeOutput Compute(Tensor flat, long[] lead, TokenMask? mask, bool lossesWanted, out GlobalBatchBalance.Part? globalBatch)
        {
            globalBatch = null;
            // Refused on this rank before any exchange: the ranks run the same code, so each refuses its own mask.
            if (mask is not null)
                throw new NotSupportedException($"ExpertParallelMoeLayer '{GetName()}' takes no token mask (tokenMask): the global capacity and losses count every token of every rank.");
            var world = _communicator.WorldSize;

            var input32 = flat.to(ScalarType.Float32);
            var logits = _router.Logits(input32);
            var routing = _router.Select(input32, logits);
            var k = routing.TopK;
            var tokens = flat.shape[0];
            var experts = HostCopy.ToArray<long>(routing.ExpertIndices);

            var gathered = GatherCounts(ExpertParallelPlan.LocalCounts(experts, tokens, k, NumExperts));
            var plan = ExpertParallelPlan.Build(experts, k, NumExperts, _communicator.Rank, gathered,
                training ? _options.CapacityFactor : _options.EvalCapacityFactor, _options.MinCapacity, _options.DropPolicy);
            // The global loads, so the balance bias moves as one process's does on all ranks' tokens.
            if (training) CountTrainingLoads(plan.AssignedGlobal);

            var output = Dispatch(flat, routing, plan, k);
            if (SharedOutput(flat) is { } shared) output = output + shared;

            var globalTokens = plan.GlobalTokens;
            var zero = zeros(Array.Empty<long>(), ScalarType.Float32, flat.device);
            var loadBalancing = _options.LoadBalancingLoss == LoadBalancingLossKind.Switch && tokens > 0 && globalTokens > 0
                ? SwitchShare(routing, plan, world) : zero;
            var zLoss = _options.ZLossCoefficient > 0 && tokens > 0
                ? logits.logsumexp(1).square().sum() * ((double)world / globalTokens) : zero;
            var auxiliary = _options.LoadBalancingCoefficient * loadBalancing + _options.ZLossCoefficient * zLoss;

            var statistics = _options.CollectStatistics ? GlobalStatistics(routing, plan, loadBalancing, zLoss) : null;
            return new MoeOutput(output.reshape(lead.Append(_options.EffectiveOutputDim).ToArray()), auxiliary, loadBalancing, zLoss,
                routing, statistics);
        }

        private protected override Tensor? SharedOutput(Tensor flat) => _sharedExperts?.call(flat);

        private protected override TopKRouter? BalancedRouter => _router as TopKRouter;

        private protected override (Device Device, ScalarType DType) ParameterPlacement() =>
            (_experts.InputWeight.device, _experts.InputWeight.dtype);

        /// <summary>Kept rows → owner rank (all-to-all), experts, outputs → back (all-to-all), weighted sum per token.</summary>
        private Tensor Dispatch(Tensor flat, RoutingResult routing, ExpertParallelPlan plan, int k)
        {
            var tokens = flat.shape[0];
            var world = _communicator.WorldSize;
            var device = flat.device;
            var keptPairs = plan.KeptPairs;
            var rows = flat.index_select(0, tensor(keptPairs.Select(p => p / k).ToArray(), ScalarType.Int64, device));
            var received = AllToAllFunction.apply(rows, _communicator, plan.SendCounts, plan.ReceiveCounts);

            // Received: source-major, each source's rows expert-contiguous. The experts want expert-major.
            var sourceStart = new long[world];
            for (var s = 1; s < world; s++) sourceStart[s] = sourceStart[s - 1] + plan.ReceiveCounts[s - 1];
            var perm = new List<long>();
            var perExpert = new long[LocalExperts];
            for (var le = 0; le < LocalExperts; le++)
            {
                for (var s = 0; s < world; s++)
                {
                    var start = sourceStart[s];
                    for (var i = 0; i < le; i++) start += plan.KeptFrom[s][i];
                    for (long r = 0; r < plan.KeptFrom[s][le]; r++) perm.Add(start + r);
                    perExpert[le] += plan.KeptFrom[s][le];
                }
            }
            var permutation = perm.ToArray();
            var inverse = new long[permutation.Length];
            for (var i = 0; i < permutation.Length; i++) inverse[permutation[i]] = i;
            var expertRows = received.index_select(0, tensor(permutation, ScalarType.Int64, device));
            // The local experts' products as one MKL batched GEMM per projection on the CPU (per-expert products elsewhere).
            var blocks = (IGroupedExpertBlocks)_experts;
            var expertOutput = blocks.ForwardSorted(expertRows, perExpert, zeros(new[] { (long)permutation.Length }, ScalarType.Int64, device),
                LibraryGroupedMatmul.Default);
            var bySource = expertOutput.index_select(0, tensor(inverse, ScalarType.Int64, device));
            var returned = AllToAllFunction.apply(bySource, _communicator, plan.ReceiveCounts, plan.SendCounts);

            var weights = routing.CombineWeights.to(flat.dtype);
            var width = returned.shape[1];
            Tensor perPair;
            if (keptPairs.Length == tokens * k)
            {
                var rowOfPair = new long[keptPairs.Length];
                for (var i = 0; i < keptPairs.Length; i++) rowOfPair[keptPairs[i]] = i;
                perPair = returned.index_select(0, tensor(rowOfPair, ScalarType.Int64, device));
            }
            else
            {
                perPair = zeros(new[] { tokens * k, width }, returned.dtype, device)
                    .index_copy(0, tensor(keptPairs, ScalarType.Int64, device), returned);
            }
            if (k == 1) return perPair * weights;
            return perPair.view(tokens, k, width).mul(weights.unsqueeze(-1)).sum(1);
        }

        /// <summary>W · E · Σᵢ fᵢ · (Σ_{t on this rank} p_ti) / T_global, f from the global counts: its mean over ranks is the one-process loss.</summary>
        private Tensor SwitchShare(RoutingResult routing, ExpertParallelPlan plan, int world)
        {
            var pairs = plan.GlobalTokens * routing.TopK;
            var fraction = plan.AssignedGlobal.Select(a => (float)((double)a / pairs)).ToArray();
            var summed = routing.Probabilities.to(ScalarType.Float32).sum(new long[] { 0 });
            return tensor(fraction, ScalarType.Float32, summed.device).dot(summed) * ((double)world * NumExperts / plan.GlobalTokens);
        }

        private RoutingStatistics GlobalStatistics(RoutingResult routing, ExpertParallelPlan plan, Tensor loadBalancing, Tensor zLoss)
        {
            using var scope = NewDisposeScope();
            var p = routing.Probabilities.detach().to(ScalarType.Float64);
            var entropySum = -(p * p.clamp_min(1e-30).log()).sum();
            var local = stack(new[] { entropySum, loadBalancing.detach().to(ScalarType.Float64), zLoss.detach().to(ScalarType.Float64) }).cpu();
            var sums = HostCopy.ToArray<double>(_communicator.AllReduce(local, ReduceOp.Sum));
            var world = _communicator.WorldSize;
            var entropy = plan.GlobalTokens == 0 ? 0 : sums[0] / plan.GlobalTokens;
            var bias = (_router as TopKRouter)?.CorrectionBias is { } b ? HostCopy.ToArray<float>(b) : null;
            return new RoutingStatistics(plan.AssignedGlobal, plan.KeptGlobal, plan.Capacity, entropy, sums[1] / world, sums[2] / world, bias,
                _options.Router == RouterKind.TopK ? _options.ExpertGroups : 1);
        }

        private long[][] GatherCounts(long[] payload)
        {
            var bytes = new byte[payload.Length * sizeof(long)];
            Buffer.BlockCopy(payload, 0, bytes, 0, bytes.Length);
            var all = _communicator.AllGatherBytes(bytes);
            return all.Select(b =>
            {
                if (b.Length != bytes.Length)
                    throw new CommunicatorMismatchException("ExpertParallelMoeLayer", $"ExpertParallelMoeLayer: a rank sent {b.Length} bytes of routing counts instead of {bytes.Length}; the ranks route with different E or k.", Array.Empty<int>());
                var values = new long[payload.Length];
                Buffer.BlockCopy(b, 0, values, 0, b.Length);
                return values;
            }).ToArray();
        }

        /// <summary>One line per option, in name order, invariant culture: the text every rank compares.</summary>
        internal static string CanonicalOptions(MoeLayerOptions options)
        {
            var lines = typeof(MoeLayerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanRead && p.CanWrite)
                .OrderBy(p => p.Name, StringComparer.Ordinal)
                .Select(p => p.Name + "=" + Format(p.GetValue(options)));
            return string.Join("\n", lines);
        }

        private static string Format(object? value) => value switch
        {
            null => "null",
            double x => x.ToString("R", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };

        /// <summary>
        /// Runs before the base constructor: the collective agreement on the options first (every rank reaches it, so a
        /// rank's invalid options make every rank throw instead of leaving the others waiting), then the checks whose
        /// verdict is then the same on every rank.
        /// </summary>
        private static MoeLayerOptions Agreed(MoeLayerOptions options, ICommunicator communicator)
        {
            ArgumentNullException.ThrowIfNull(options);
            ArgumentNullException.ThrowIfNull(communicator);
            CheckSameOptions(communicator, options);
            MoeLayerOptionsValidator.ThrowIfInvalid(options);
            ThrowIfUnsupported(options, communicator.WorldSize);
            return options;
        }

        private static void CheckSameOptions(ICommunicator communicator, MoeLayerOptions options)
        {
            var text = CanonicalOptions(options);
            var all = communicator.AllGatherBytes(Encoding.UTF8.GetBytes(text)).Select(b => Encoding.UTF8.GetString(b).Split('\n')).ToArray();
            if (all.All(a => a.SequenceEqual(all[0]))) return;
            var differences = new List<string>();
            var differing = new SortedSet<int>();
            var names = all.SelectMany(a => a.Select(l => l.Split('=', 2)[0])).Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal);
            foreach (var field in names)
            {
                var values = all.Select(a => a.FirstOrDefault(l => l.StartsWith(field + "=", StringComparison.Ordinal))?[(field.Length + 1)..] ?? "(absent)").ToArray();
                if (values.Distinct().Count() == 1) continue;
                var groups = values.Select((v, r) => (v, r)).GroupBy(x => x.v).OrderBy(g => g.Min(x => x.r))
                    .Select(g => $"{(g.Count() == 1 ? "rank" : "ranks")} {string.Join(", ", g.Select(x => x.r))}: {g.Key}").ToArray();
                differences.Add($"{field} ({string.Join("; ", groups)})");
                var majority = values.GroupBy(v => v).OrderByDescending(g => g.Count()).ThenBy(g => Array.IndexOf(values, g.Key)).First().Key;
                for (var r = 0; r < values.Length; r++)
                    if (values[r] != majority) differing.Add(r);
            }
            throw new CommunicatorMismatchException("ExpertParallelMoeLayer",
                $"ExpertParallelMoeLayer: the ranks were given different MoeLayerOptions: {string.Join("; ", differences)}. Every rank must build the layer from the same options.",
                differing.ToArray());
        }

        private static void ThrowIfUnsupported(MoeLayerOptions o, int world)
        {
            if (o.NumExperts % world != 0)
                throw new ArgumentException(
                    $"ExpertParallelMoeLayer: NumExperts = {o.NumExperts} does not divide by the world size {world}; every rank must own the same number of experts (choose E as a multiple of {world}, or run on a number of ranks that divides {o.NumExperts}).",
                    nameof(o));
            var problems = new List<string>();
            if (o.Router is not (RouterKind.TopK or RouterKind.Switch))
                problems.Add($"Router = {o.Router} (supported: TopK, Switch)");
            if (o.Router == RouterKind.Switch && o.SwitchJitter != 0)
                problems.Add("SwitchJitter ≠ 0 (each rank would draw different noise than one process)");
            if (o.LowRank != 0) problems.Add("LowRank experts");
            if (o.LoadBalancingLoss is not (LoadBalancingLossKind.Switch or LoadBalancingLossKind.None))
                problems.Add($"LoadBalancingLoss = {o.LoadBalancingLoss} (supported: Switch, None)");
            if (o.DropPolicy == DropPolicy.ByWeight && (o.CapacityFactor is not null || o.EvalCapacityFactor is not null))
                problems.Add("DropPolicy = ByWeight with a capacity (it would need every rank's weights; use ByPosition or ByChoiceThenPosition)");
            if (problems.Count > 0)
                throw new NotSupportedException($"ExpertParallelMoeLayer does not support: {string.Join("; ", problems)}.");
        }
    }
}
