using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>The once-per-step part of load balancing, called after the optimizer step.</summary>
    public static class MoeLoadBalancing
    {
        /// <summary>
        /// Ends a training step for every MoE layer in <paramref name="model"/>: moves each aux-loss-free balance bias by
        /// b += γ·sign(mean load − load) from the loads its training forwards saw since the previous call (all
        /// micro-batches of the step), and starts counting anew for global-batch balancing. Call it right after
        /// <c>optimizer.step()</c>; without it the bias never moves and global-batch counts span every step so far.
        /// </summary>
        /// <param name="model">Any module containing MoE layers.</param>
        public static void AfterOptimizerStep(nn.Module model)
        {
            ArgumentNullException.ThrowIfNull(model);
            foreach (var module in model.modules().Prepend(model).Distinct())
            {
                if (module is MoeLayer layer) layer.EndBalanceStep();
            }
        }
    }
}
