using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Text;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// Expert parallelism for <see cref="MoeLayer"/>: the same layer, with its E experts sharded over the communicator's
    /// ranks (rank r holds experts [r·E/W, (r+1)·E/W)) and a dispatch part that reaches the other ranks' experts
    /// (two all-to-alls); the router and shared experts are replicated. Capacity, drops, combine, auxiliary losses and
    /// statistics are the core layer's, computed from every rank's counts, so they equal those of one process on all
    /// ranks' tokens concatenated in rank order; a model holding such layers works with
    /// <see cref="MoeAuxiliaryLoss.Collect"/>, <see cref="MoeLoadBalancing.AfterOptimizerStep"/>, <see cref="MoeLayer.Run"/>
    /// and <see cref="MoeLayer.Statistics"/> unchanged.
    /// <para>
    /// Losses follow the data-parallel convention: each rank's <see cref="MoeOutput.AuxiliaryLoss"/> is W times its share
    /// of the one-process loss, so the mean over ranks equals the one-process loss, and the gradients averaged with
    /// <see cref="GradientAllReduce.Average"/> equal the one-process gradients when each rank's task loss is likewise W ×
    /// its share (with equal token counts: the mean over its own tokens).
    /// </para>
    /// Supports the top-k (softmax or sigmoid, groups, balance bias, router bias, weights on the expert inputs) and
    /// Switch routers without jitter, Switch load-balancing and z-loss, dropless or capacity with <see cref="DropPolicy.ByPosition"/> or
    /// <see cref="DropPolicy.ByChoiceThenPosition"/>, no token mask. Every forward, <c>forward</c> and
    /// <see cref="MoeLayer.Run"/> alike, is a collective: all ranks call it, in the same order.
    /// </summary>
    public static class ExpertParallel
    {
        /// <summary>
        /// Collective: builds this rank's shard of the layer. Every rank first checks, with one all-gather, that all ranks
        /// pass the same options (else every rank throws <see cref="CommunicatorMismatchException"/> naming the fields and
        /// ranks); then that the options are valid, supported, and that E divides by the world size (the same verdict on
        /// every rank). State dict: as <see cref="MoeLayer"/>'s, with experts.* holding this rank's experts only
        /// (<see cref="LoadShardFrom"/> takes them from a one-process layer's state dict).
        /// </summary>
        /// <param name="options">Layer options, the same on every rank.</param>
        /// <param name="communicator">The ranks the experts are sharded over.</param>
        /// <param name="name">Module name.</param>
        public static MoeLayer Create(MoeLayerOptions options, ICommunicator communicator, string name = "moe")
        {
            Agreed(options, communicator);
            var local = options.NumExperts / communicator.WorldSize;
            return new MoeLayer(options, name, new ExpertParallelDispatcher(communicator, options.NumExperts), communicator.Rank * local, local);
        }

        /// <summary>The communicator <paramref name="layer"/>'s experts are sharded over, or null when it is not expert-parallel.</summary>
        /// <param name="layer">An MoE layer.</param>
        public static ICommunicator? CommunicatorOf(MoeLayer layer)
        {
            ArgumentNullException.ThrowIfNull(layer);
            return (layer.FixedDispatcher as ExpertParallelDispatcher)?.Communicator;
        }

        /// <summary>
        /// Loads this rank's part of a one-process layer's state dict (same options): router and shared experts as they are,
        /// and rows [FirstExpert, FirstExpert + LocalExperts) of every experts.* tensor. Checked like
        /// <see cref="MoeLayer.load_state_dict"/> (strict: names and shapes); nothing changes on failure.
        /// </summary>
        /// <param name="layer">This rank's layer.</param>
        /// <param name="fullStateDict">A one-process layer's state dict, e.g. <c>moeLayer.state_dict()</c>.</param>
        public static void LoadShardFrom(this MoeLayer layer, IReadOnlyDictionary<string, Tensor> fullStateDict)
        {
            ArgumentNullException.ThrowIfNull(layer);
            ArgumentNullException.ThrowIfNull(fullStateDict);
            using var scope = NewDisposeScope();
            var shard = new Dictionary<string, Tensor>();
            foreach (var (key, value) in fullStateDict)
            {
                if (key.StartsWith("experts.", StringComparison.Ordinal))
                {
                    if (value.dim() < 1 || value.shape[0] != layer.NumExperts)
                        throw new ArgumentException($"{key} must have {layer.NumExperts} experts in its first dimension; got {string.Join(", ", value.shape)}.", nameof(fullStateDict));
                    shard[key] = value.narrow(0, layer.FirstExpert, layer.LocalExperts);
                }
                else
                {
                    shard[key] = value;
                }
            }
            MoeStateDict.Load(layer, shard);
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
        /// Runs before the layer is built: the collective agreement on the options first (every rank reaches it, so a
        /// rank's invalid options make every rank throw instead of leaving the others waiting), then the checks whose
        /// verdict is then the same on every rank.
        /// </summary>
        private static void Agreed(MoeLayerOptions options, ICommunicator communicator)
        {
            ArgumentNullException.ThrowIfNull(options);
            ArgumentNullException.ThrowIfNull(communicator);
            CheckSameOptions(communicator, options);
            MoeLayerOptionsValidator.ThrowIfInvalid(options);
            ThrowIfUnsupported(options, communicator.WorldSize);
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
            throw new CommunicatorMismatchException("ExpertParallel.Create",
                $"ExpertParallel.Create: the ranks were given different MoeLayerOptions: {string.Join("; ", differences)}. Every rank must build the layer from the same options.",
                differing.ToArray());
        }

        private static void ThrowIfUnsupported(MoeLayerOptions o, int world)
        {
            if (o.NumExperts % world != 0)
                throw new ArgumentException(
                    $"ExpertParallel.Create: NumExperts = {o.NumExperts} does not divide by the world size {world}; every rank must own the same number of experts (choose E as a multiple of {world}, or run on a number of ranks that divides {o.NumExperts}).",
                    nameof(o));
            var problems = new List<string>();
            if (o.Router is not (RouterKind.TopK or RouterKind.Switch))
                problems.Add($"Router = {o.Router} (supported: TopK, Switch)");
            if (o.Router == RouterKind.Switch && o.SwitchJitter != 0)
                problems.Add("SwitchJitter ≠ 0 (each rank would draw different noise than one process)");
            if (o.LowRank != 0) problems.Add("LowRank experts");
            if (o.LoadBalancingLoss is not (LoadBalancingLossKind.Switch or LoadBalancingLossKind.None))
                problems.Add($"LoadBalancingLoss = {o.LoadBalancingLoss} (supported: Switch, None)");
            if (o.Dispatch is DispatchStrategy.Padded or DispatchStrategy.Reference)
                problems.Add($"Dispatch = {o.Dispatch} (the expert-parallel dispatch runs the grouped products; use Auto or Grouped)");
            if (o.UseCudaDispatch == CudaDispatchMode.Always)
                problems.Add("UseCudaDispatch = Always (the expert-parallel dispatch is its own; use Auto or Never)");
            if (o.DropPolicy == DropPolicy.ByWeight && (o.CapacityFactor is not null || o.EvalCapacityFactor is not null))
                problems.Add("DropPolicy = ByWeight with a capacity (it would need every rank's weights; use ByPosition or ByChoiceThenPosition)");
            if (problems.Count > 0)
                throw new NotSupportedException($"ExpertParallel.Create does not support: {string.Join("; ", problems)}.");
        }
    }
}
