using System.Globalization;

namespace MoeLayers
{
    /// <summary>
    /// Low-rank adapters (LoRA, Hu et al. 2021, arXiv 2106.09685) on every routed expert of a layer
    /// (<see cref="MoeLayerOptions.Lora"/>): for each adapted projection W_e [in, out] of expert e, a down matrix
    /// A_e [in, r] and an up matrix B_e [r, out], and the projection computes x·W_e + s·(x·A_e)·B_e with
    /// s = <see cref="Alpha"/> / r (or α/√r with <see cref="RankStabilized"/>). A is drawn like nn.Linear's weight
    /// (uniform ±1/√in), B starts at zero, so an adapted layer computes its base layer's function until B is trained.
    /// The base weights are frozen; the adapters are float32 (float64 under a float64 model) whatever the base dtype.
    /// </summary>
    public sealed class LoraOptions
    {
        /// <summary>Rank r of every adapter, at least 1. Default 8.</summary>
        public int Rank { get; set; } = 8;

        /// <summary>The α of the scale s = α/r (α/√r with <see cref="RankStabilized"/>), a finite number &gt; 0. Default 8.</summary>
        public double Alpha { get; set; } = 8;

        /// <summary>Scale the update by α/√r (rsLoRA, Kalajdzievski 2023, arXiv 2312.03732) instead of α/r. Default false.</summary>
        public bool RankStabilized { get; set; }

        /// <summary>
        /// Which projections carry adapters; must name at least one projection the experts have. Default
        /// <see cref="LoraProjections.All"/>.
        /// </summary>
        public LoraProjections Projections { get; set; } = LoraProjections.All;

        /// <summary>
        /// Give the shared experts (<see cref="MoeLayerOptions.SharedExperts"/>) adapters of the same rank on the same
        /// projections; false leaves them frozen. Default true; ignored without shared experts.
        /// </summary>
        public bool AdaptSharedExperts { get; set; } = true;

        /// <summary>
        /// Keep the router's parameters trainable (they are few: E·d); false freezes them. Default false. Routers are trained
        /// in full, not through adapters.
        /// </summary>
        public bool TrainRouter { get; set; }

        /// <summary>The scale s of the low-rank update: α/r, or α/√r with <see cref="RankStabilized"/>.</summary>
        public double Scale => RankStabilized ? Alpha / System.Math.Sqrt(Rank) : Alpha / Rank;

        /// <summary>A member-wise copy.</summary>
        public LoraOptions Clone() => (LoraOptions)MemberwiseClone();

        /// <summary>Every field, invariant culture, in one line (the text expert-parallel ranks compare).</summary>
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"Rank={Rank};Alpha={Alpha:R};RankStabilized={RankStabilized};Projections={Projections};AdaptSharedExperts={AdaptSharedExperts};TrainRouter={TrainRouter}");
    }
}
