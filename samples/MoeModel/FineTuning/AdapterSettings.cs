using System;
using System.Globalization;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The LoRA hyperparameters of a whole-model fine-tune: one rank r and α for every adapted projection, whose update is
    /// W + s·B·A (PEFT's lora_A.weight A [r, in], lora_B.weight B [out, r]) with s = α/r, or α/√r with
    /// <see cref="RankStabilized"/> (rsLoRA).
    /// </summary>
    /// <param name="Rank">Rank r, at least 1.</param>
    /// <param name="Alpha">α, finite and &gt; 0.</param>
    /// <param name="RankStabilized">Scale by α/√r instead of α/r.</param>
    /// <param name="Targets">What is adapted (and whether the routers are trained).</param>
    public sealed record AdapterSettings(int Rank, double Alpha, bool RankStabilized, AdapterTargets Targets)
    {
        /// <summary>The scale s of every update.</summary>
        public double Scale => RankStabilized ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

        /// <summary>Throws when a field is out of range, naming it.</summary>
        public void Validate()
        {
            if (Rank < 1) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "the LoRA rank must be at least 1.");
            if (!double.IsFinite(Alpha) || Alpha <= 0)
                throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha.ToString(CultureInfo.InvariantCulture), "the LoRA alpha must be finite and > 0.");
            if ((Targets & (AdapterTargets.AllProjections | AdapterTargets.Router)) == AdapterTargets.None)
                throw new ArgumentOutOfRangeException(nameof(Targets), Targets, "name at least one of Attention, Experts, DenseMlp, Router.");
        }

        /// <summary>The library's options for the MoE layers' experts under these settings.</summary>
        public LoraOptions ToLoraOptions() => new()
        {
            Rank = Rank,
            Alpha = Alpha,
            RankStabilized = RankStabilized,
            Projections = LoraProjections.All,
            AdaptSharedExperts = true,
            TrainRouter = Targets.HasFlag(AdapterTargets.Router),
        };
    }
}
