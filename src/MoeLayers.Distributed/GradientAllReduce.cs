using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers.Distributed
{
    /// <summary>Data-parallel gradient reduction for models that hold expert-parallel layers (<see cref="ExpertParallel.Create"/>).</summary>
    public static class GradientAllReduce
    {
        /// <summary>
        /// Collective, after <c>backward</c> on every rank: makes every gradient of <paramref name="module"/> the
        /// one-process gradient, when each rank's loss follows the data-parallel convention (the mean over ranks of the
        /// rank losses is the one-process loss, e.g. each rank's task loss is the mean over its share of equally split
        /// tokens, plus the <see cref="MoeOutput.AuxiliaryLoss"/> of its expert-parallel layers).
        /// <list type="bullet">
        /// <item>Replicated parameters — every parameter that is not an expert shard: routers (router.weight), shared
        /// experts, and everything outside the MoE layers (embeddings, attention, norms): all-reduce summed and divided
        /// by the world size W, the usual data-parallel average.</item>
        /// <item>Expert shards (experts.* of every expert-parallel layer): not exchanged — only this rank
        /// holds them, and the backward all-to-all already summed every rank's contribution into them — but divided by W,
        /// since each rank's loss counts W times its share.</item>
        /// </list>
        /// Parameters without a gradient are left alone; which ones have one must agree across ranks (checked with one
        /// all-gather; a difference throws <see cref="CommunicatorMismatchException"/> on every rank). The replicated
        /// gradients travel as one all-reduce per dtype.
        /// </summary>
        /// <param name="module">The model (or a single layer).</param>
        /// <param name="communicator">The ranks the model is replicated and sharded over.</param>
        public static void Average(nn.Module module, ICommunicator communicator)
        {
            ArgumentNullException.ThrowIfNull(module);
            ArgumentNullException.ThrowIfNull(communicator);
            var world = communicator.WorldSize;
            var shards = new HashSet<IntPtr>();
            foreach (var layer in module.modules().Prepend(module).OfType<MoeLayer>().Distinct())
            {
                if (ExpertParallel.CommunicatorOf(layer) is null) continue;
                foreach (var (name, p) in layer.named_parameters())
                    if (name.StartsWith("experts.", StringComparison.Ordinal)) shards.Add(p.Handle);
            }

            var replicated = new List<(string Name, Tensor Grad)>();
            var presence = new System.Text.StringBuilder();
            using var noGrad = no_grad();
            foreach (var (name, parameter) in module.named_parameters())
            {
                var grad = parameter.grad;
                if (shards.Contains(parameter.Handle))
                {
                    grad?.div_(world);
                    continue;
                }
                presence.Append(grad is null ? '0' : '1');
                if (grad is not null) replicated.Add((name, grad));
            }
            communicator.CheckSameOnAllRanks("set of replicated parameters that have a gradient (1 = has one, in named_parameters order)", presence.ToString());
            foreach (var group in replicated.GroupBy(r => r.Grad.dtype).OrderBy(g => (int)g.Key))
            {
                var grads = group.Select(g => g.Grad).ToArray();
                using var flat = cat(grads.Select(g => g.detach().cpu().reshape(-1)).ToArray(), 0);
                using var summed = communicator.AllReduce(flat, ReduceOp.Sum);
                summed.div_(world);
                long offset = 0;
                foreach (var g in grads)
                {
                    var n = g.numel();
                    g.copy_(summed.narrow(0, offset, n).view(g.shape));
                    offset += n;
                }
            }
        }
    }
}
