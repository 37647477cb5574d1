using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// Expert parallelism as the dispatch part of a <see cref="MoeLayer"/>: the E experts are sharded over the
    /// communicator's ranks (rank r holds experts [r·L, (r+1)·L), L = E/W). One all-gather of every rank's token count and
    /// (expert, choice) pair counts places this rank's batch in the batch of all ranks in rank order; the core's
    /// <see cref="DispatchPlan"/> then keeps exactly the pairs one process would keep on that batch (the one capacity and
    /// drop rule, <see cref="Capacity.KeptPerExpert"/>, applied to every rank's counts gives both exchanges' sizes); the
    /// kept rows go to their expert's rank with one all-to-all, run through the experts' grouped products, return with a
    /// second, and the core's combine sums them with the local routing weights (the plan's gather and combine, so a layer
    /// that weights the experts' inputs scales the rows before they leave). Backward runs the mirror exchanges (a
    /// collective: every rank calls backward, or none does). The dispatch output's counts are every rank's, so the layer's
    /// losses, statistics and balance bias see what one process would see on all ranks' tokens.
    /// </summary>
    /// <param name="communicator">The ranks the experts are sharded over.</param>
    /// <param name="numExperts">E, all ranks' experts (a multiple of the world size).</param>
    internal sealed class ExpertParallelDispatcher(ICommunicator communicator, int numExperts) : IExpertDispatcher
    {
        private readonly ICommunicator _communicator = communicator;
        private readonly int _numExperts = numExperts;

        /// <summary>The communicator the experts are sharded over.</summary>
        public ICommunicator Communicator => _communicator;

        /// <summary>Experts each rank holds, E / W.</summary>
        private int LocalExperts => _numExperts / _communicator.WorldSize;

        /// <inheritdoc />
        public DispatchOutput Dispatch(Tensor input, RoutedTokens routed, DispatchRules rules)
        {
            // Refused on this rank before any exchange: the ranks run the same code, so each refuses its own mask.
            if (rules.Mask is not null)
                throw new NotSupportedException("An expert-parallel MoE layer takes no token mask (tokenMask): the global capacity and losses count every token of every rank.");
            var (world, rank, local) = (_communicator.WorldSize, _communicator.Rank, LocalExperts);
            var routing = routed.Routing;
            var topK = routing.TopK;

            var counts = GatherPairCounts(routing, topK);
            var batchTokens = counts.Sum(c => c.Tokens);
            var total = Sum(counts.Select(c => c.Pairs), topK);
            var before = Sum(counts.Take(rank).Select(c => c.Pairs), topK);
            var capacity = Capacity.Compute(rules.CapacityFactor, batchTokens, topK, _numExperts, rules.MinCapacity);
            var plan = DispatchPlan.Build(routing.ExpertIndices, routing.CombineWeights, _numExperts, rules with { Capacity = capacity },
                position: new BatchPosition(before, total));
            // Every rank's kept pairs per expert, by the same rule: the sizes of both exchanges, with no further collective.
            var keptOf = counts.Select((c, q) =>
                Capacity.KeptPerExpert(rules.DropPolicy, capacity, c.Pairs, Sum(counts.Take(q).Select(p => p.Pairs), topK), total)).ToArray();
            var sendCounts = Enumerable.Range(0, world).Select(q => plan.KeptPerExpert.Skip(q * local).Take(local).Sum()).ToArray();
            var keptFrom = Enumerable.Range(0, world).Select(q => keptOf[q].Skip(rank * local).Take(local).ToArray()).ToArray();

            var weights = routing.CombineWeights.to(input.dtype);
            var rows = plan.GatherRows(input, weights);
            var received = AllToAllFunction.apply(rows, _communicator, sendCounts, keptFrom.Select(k => k.Sum()).ToArray());
            var (toExperts, perExpert) = ExpertMajor(keptFrom);
            var order = tensor(toExperts, ScalarType.Int64, input.device);
            var expertRows = received.index_select(0, order);
            // The local experts hold no per-(token, expert) state here, so the assignments are placeholders; the products go
            // through the one grouped-matmul seam (MKL on the CPU, cuBLAS on CUDA tensors).
            var expertOutput = routed.Experts.ForwardSorted(expertRows, perExpert, zeros(new[] { (long)toExperts.Length }, ScalarType.Int64, input.device),
                LibraryGroupedMatmul.Default);
            var bySource = zeros_like(expertOutput).index_copy(0, order, expertOutput);
            var returned = AllToAllFunction.apply(bySource, _communicator, keptFrom.Select(k => k.Sum()).ToArray(), sendCounts);
            var output = plan.Combine(returned, weights);

            var assigned = Enumerable.Range(0, _numExperts).Select(e => Enumerable.Range(0, topK).Sum(j => total[e, j])).ToArray();
            var kept = Enumerable.Range(0, _numExperts).Select(e => keptOf.Sum(k => k[e])).ToArray();
            return new DispatchOutput(output, assigned, kept, capacity, batchTokens, world);
        }

        /// <inheritdoc />
        public double[] SumOverRanks(double[] values)
        {
            using var local = tensor(values, ScalarType.Float64);
            using var sums = _communicator.AllReduce(local, ReduceOp.Sum);
            return HostCopy.ToArray<double>(sums);
        }

        /// <summary>One all-gather of every rank's token count and (expert, choice) pair counts [E, k], in rank order.</summary>
        private (long Tokens, long[,] Pairs)[] GatherPairCounts(RoutingResult routing, int topK)
        {
            var pairs = DispatchPlan.PairCounts(routing.ExpertIndices, _numExperts);
            var payload = new long[1 + pairs.Length];
            payload[0] = routing.TokenCount;
            Buffer.BlockCopy(pairs, 0, payload, sizeof(long), pairs.Length * sizeof(long));
            var bytes = new byte[payload.Length * sizeof(long)];
            Buffer.BlockCopy(payload, 0, bytes, 0, bytes.Length);
            return _communicator.AllGatherBytes(bytes).Select(b =>
            {
                if (b.Length != bytes.Length)
                    throw new CommunicatorMismatchException("expert-parallel dispatch",
                        $"expert-parallel dispatch: a rank sent {b.Length} bytes of routing counts instead of {bytes.Length}; the ranks route with different E or k.", Array.Empty<int>());
                var values = new long[payload.Length];
                Buffer.BlockCopy(b, 0, values, 0, b.Length);
                var rankPairs = new long[_numExperts, topK];
                Buffer.BlockCopy(values, sizeof(long), rankPairs, 0, rankPairs.Length * sizeof(long));
                return (values[0], rankPairs);
            }).ToArray();
        }

        /// <summary>
        /// Received rows arrive source-major, each source's rows expert-contiguous; the experts want expert-major. Returns
        /// the received row of each expert-major row and the rows per local expert.
        /// </summary>
        private static (long[] ToExperts, long[] PerExpert) ExpertMajor(long[][] keptFrom)
        {
            var (world, local) = (keptFrom.Length, keptFrom.Length == 0 ? 0 : keptFrom[0].Length);
            var sourceStart = new long[world];
            for (var s = 1; s < world; s++) sourceStart[s] = sourceStart[s - 1] + keptFrom[s - 1].Sum();
            var order = new List<long>();
            var perExpert = new long[local];
            for (var le = 0; le < local; le++)
            {
                for (var s = 0; s < world; s++)
                {
                    var start = sourceStart[s] + keptFrom[s].Take(le).Sum();
                    for (long r = 0; r < keptFrom[s][le]; r++) order.Add(start + r);
                    perExpert[le] += keptFrom[s][le];
                }
            }
            return (order.ToArray(), perExpert);
        }

        private long[,] Sum(IEnumerable<long[,]> counts, int topK)
        {
            var sum = new long[_numExperts, topK];
            foreach (var c in counts)
            {
                for (var e = 0; e < _numExperts; e++)
                    for (var j = 0; j < topK; j++) sum[e, j] += c[e, j];
            }
            return sum;
        }
    }
}
