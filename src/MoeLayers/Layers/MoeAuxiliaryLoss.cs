using System;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Layers
{
    /// <summary>Sums the auxiliary losses of every MoE layer inside a model.</summary>
    public static class MoeAuxiliaryLoss
    {
        /// <summary>
        /// Σ of <see cref="IMoeLayer.AuxiliaryLoss"/> over the model and all its submodules that ran a forward in the
        /// current dispose scope; a zero scalar when there are none. Add it to the task loss before backward.
        /// </summary>
        /// <param name="model">Any module containing MoE layers.</param>
        public static Tensor Collect(nn.Module model)
        {
            ArgumentNullException.ThrowIfNull(model);
            Tensor? total = null;
            foreach (var module in model.modules())
            {
                if (module is IMoeLayer { AuxiliaryLoss: { IsInvalid: false } loss })
                {
                    total = total is null ? loss : total + loss;
                }
            }
            return total ?? zeros(Array.Empty<long>(), ScalarType.Float32);
        }
    }
}
