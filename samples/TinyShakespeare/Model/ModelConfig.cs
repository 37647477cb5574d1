using System;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// Shape of the character-level MoE transformer. Stored in checkpoints (as JSON, router by name) so a checkpoint
    /// rebuilds its own model.
    /// </summary>
    public sealed record ModelConfig
    {
        /// <summary>Characters in the vocabulary.</summary>
        public int VocabularySize { get; init; }

        /// <summary>Model width C (n_embed).</summary>
        public int EmbedDim { get; init; }

        /// <summary>Attention heads; must divide <see cref="EmbedDim"/>.</summary>
        public int Heads { get; init; }

        /// <summary>Transformer blocks, each attention + MoE feed-forward.</summary>
        public int Layers { get; init; }

        /// <summary>Context length T (block size).</summary>
        public int BlockSize { get; init; }

        /// <summary>Experts per MoE layer.</summary>
        public int Experts { get; init; }

        /// <summary>Experts per token k.</summary>
        public int TopK { get; init; }

        /// <summary>Routing rule of every MoE layer.</summary>
        public RouterKind Router { get; init; }

        /// <summary>Hidden width of each expert (4·C in the reference).</summary>
        public int ExpertHiddenDim { get; init; }

        /// <summary>Dropout on attention weights, the attention output and the MoE output, in [0, 1).</summary>
        public double Dropout { get; init; }

        /// <summary>Expert capacity factor in training, or null for dropless routing.</summary>
        public double? CapacityFactor { get; init; }

        /// <summary>Load-balancing loss of every MoE layer.</summary>
        public LoadBalancingLossKind BalanceLoss { get; init; } = LoadBalancingLossKind.Switch;

        /// <summary>Coefficient of the load-balancing loss.</summary>
        public double BalanceCoefficient { get; init; } = 0.01;

        /// <summary>Coefficient of the router z-loss.</summary>
        public double ZLossCoefficient { get; init; } = 0.001;

        /// <summary>
        /// Rank r of the Autonomy-of-Experts layers' factorized gate projection (AoE only); 0 means C / 4.
        /// </summary>
        public int AoeRank { get; init; }

        /// <summary>
        /// How the layer is built around its router (<see cref="LayerStyle.Plain"/> in checkpoints written before styles
        /// existed). <see cref="LayerStyle.DeepSeek"/> and <see cref="LayerStyle.Qwen"/> need the top-k router and one
        /// shared expert; <see cref="LayerStyles.Apply"/> gives their shapes.
        /// </summary>
        public LayerStyle Style { get; init; } = LayerStyle.Plain;

        /// <summary>Always-on shared experts per MoE layer (0 = none; 1 in the DeepSeek and Qwen styles).</summary>
        public int SharedExperts { get; init; }

        /// <summary>Hidden width of each shared expert; 0 means <see cref="ExpertHiddenDim"/>.</summary>
        public int SharedHiddenDim { get; init; }

        /// <summary>Head width C / heads.</summary>
        public int HeadDim => EmbedDim / Heads;

        /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad field.</summary>
        public void Validate()
        {
            Positive(VocabularySize, nameof(VocabularySize));
            Positive(EmbedDim, nameof(EmbedDim));
            Positive(Heads, nameof(Heads));
            Positive(Layers, nameof(Layers));
            Positive(BlockSize, nameof(BlockSize));
            Positive(ExpertHiddenDim, nameof(ExpertHiddenDim));
            if (EmbedDim % Heads != 0)
                throw new ArgumentException($"{nameof(Heads)} ({Heads}) must divide {nameof(EmbedDim)} ({EmbedDim}).", nameof(Heads));
            if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
                throw new ArgumentException($"{nameof(Dropout)} must be in [0, 1); got {Dropout}.", nameof(Dropout));
            if (!Enum.IsDefined(Style))
                throw new ArgumentException($"{nameof(Style)} {Style} is not a layer style.", nameof(Style));
            if (Style != LayerStyle.Plain && (Router != RouterKind.TopK || SharedExperts < 1))
                throw new ArgumentException(
                    $"the {LayerStyles.Display(Style)} style is built on the top-k router with a shared expert; got router {Router}, {SharedExperts} shared experts.", nameof(Style));
            MoeLayerOptionsValidator.ThrowIfInvalid(ToMoeOptions());
        }

        /// <summary>
        /// The options of one MoE feed-forward layer: ReLU experts with biases, as in the reference model. AoE layers use
        /// the paper's SwiGLU experts without biases (and no z-loss: their scores are norms, not logits), with the hidden
        /// width that matches the ReLU expert's 2·C·h weights: r·C + r·h' + 2·C·h' = 2·C·h. The DeepSeek style adds sigmoid
        /// scores, renormalized weights and the aux-loss-free bias, with no balance loss and no z-loss; the Qwen style gates
        /// its shared expert and leaves the weights unnormalized. Expert choice is built non-causal and without a balance
        /// loss, as the library requires (the command line refuses it unless --allow-future-leak is given).
        /// </summary>
        public MoeLayerOptions ToMoeOptions()
        {
            if (Router == RouterKind.ExpertChoice)
            {
                var expertChoice = LearnedRouterOptions();
                expertChoice.Causal = false;
                expertChoice.LoadBalancingLoss = LoadBalancingLossKind.None;
                return expertChoice;
            }
            if (Style == LayerStyle.DeepSeek)
            {
                var deepSeek = LearnedRouterOptions();
                deepSeek.ScoreFunction = ScoreFunction.Sigmoid;
                deepSeek.RenormalizeWeights = true;
                deepSeek.RoutedScalingFactor = 1.0;
                deepSeek.BalanceBias = true;
                deepSeek.BalanceBiasRate = LayerStyles.DeepSeekBiasRate;
                deepSeek.LoadBalancingLoss = LoadBalancingLossKind.None;
                deepSeek.LoadBalancingCoefficient = 0;
                deepSeek.ZLossCoefficient = 0;
                return deepSeek;
            }
            if (Style == LayerStyle.Qwen)
            {
                var qwen = LearnedRouterOptions();
                qwen.RenormalizeWeights = false;
                qwen.SharedExpertGate = true;
                return qwen;
            }
            if (Router != RouterKind.AutonomyOfExperts) return LearnedRouterOptions();
            var rank = AoeRank > 0 ? AoeRank : Math.Max(1, EmbedDim / 4);
            var options = LearnedRouterOptions();
            options.Activation = ExpertActivation.SwiGlu;
            options.ExpertBias = false;
            options.ZLossCoefficient = 0;
            options.LowRank = rank;
            options.HiddenDim = AutonomyOfExperts.HiddenDimForParameterBudget(EmbedDim, EmbedDim, rank, 2L * EmbedDim * ExpertHiddenDim);
            return options;
        }

        private MoeLayerOptions LearnedRouterOptions() => new()
        {
            InputDim = EmbedDim,
            HiddenDim = ExpertHiddenDim,
            NumExperts = Experts,
            TopK = TopK,
            Router = Router,
            Activation = ExpertActivation.Relu,
            ExpertBias = true,
            CapacityFactor = CapacityFactor,
            LoadBalancingLoss = BalanceLoss,
            LoadBalancingCoefficient = BalanceCoefficient,
            ZLossCoefficient = ZLossCoefficient,
            SharedExperts = SharedExperts,
            SharedHiddenDim = SharedHiddenDim,
            Causal = !RouterNames.LeaksFutureTokens(Router),
        };

        private static void Positive(int value, string name)
        {
            if (value < 1) throw new ArgumentException($"{name} must be at least 1; got {value}.", name);
        }
    }
}
