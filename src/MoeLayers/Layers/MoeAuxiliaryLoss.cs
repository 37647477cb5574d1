using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Sums the auxiliary losses of every MoE layer inside a model.</summary>
    public static class MoeAuxiliaryLoss
    {
        /// <summary>
        /// Takes and sums the auxiliary losses of every training forward of every MoE layer in <paramref name="model"/>
        /// since the previous call: once per forward (a layer called twice counts twice), never a loss already collected,
        /// never one whose dispose scope has ended. A zero scalar when there are none. Call it once per training step and add
        /// the result to the task loss before backward.
        /// </summary>
        /// <param name="model">Any module containing MoE layers.</param>
        public static Tensor Collect(nn.Module model)
        {
            ArgumentNullException.ThrowIfNull(model);
            Tensor? total = null;
            // modules() lists the submodules only; the model may itself be an MoE layer.
            foreach (var module in model.modules().Prepend(model).Distinct())
            {
                if (module is not MoeLayer layer) continue;
                if (layer.TakeAuxiliaryLosses() is { } loss) total = total is null ? loss : total + loss;
            }
            return total ?? zeros(Array.Empty<long>(), ScalarType.Float32);
        }
    }
}
