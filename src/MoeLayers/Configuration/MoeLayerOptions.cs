
namespace MoeLayers
{
    /// <summary>
    /// Everything that defines an MoE layer. A plain options class: bind it from configuration
    /// (<c>services.AddMoeLayers(configuration.GetSection("Moe"))</c>, package Microsoft.Extensions.Options.ConfigurationExtensions,
    /// which MoeLayers references) or set it in code, then build the layer with <see cref="Moe.Create"/>.
    /// <see cref="MoeLayerOptionsValidator"/> checks every field; the layer constructors run it too.
    /// </summary>
    public sealed class MoeLayerOptions
    {
        /// <summary>Model width d (input width of the layer), at least 1.</summary>
        public int InputDim { get; set; }

        /// <summary>Expert hidden width h, at least 1.</summary>
        public int HiddenDim { get; set; }

        /// <summary>Output width; 0 means the same as <see cref="InputDim"/>.</summary>
        public int OutputDim { get; set; }

        /// <summary>Number of experts E, at least 1. Default 8.</summary>
        public int NumExperts { get; set; } = 8;

        /// <summary>
        /// Experts per token k, in [1, E]; must be 1 for <see cref="RouterKind.Switch"/> and at least 2 for
        /// <see cref="RouterKind.NoisyTopK"/> (whose softmax over one kept logit is always 1). Default 2.
        /// </summary>
        public int TopK { get; set; } = 2;

        /// <summary>Routing rule. Default <see cref="RouterKind.TopK"/>.</summary>
        public RouterKind Router { get; set; } = RouterKind.TopK;

        /// <summary>
        /// Softmax/top-k order for <see cref="RouterKind.TopK"/> and <see cref="RouterKind.AutonomyOfExperts"/>. Default
        /// softmax then top-k. <see cref="TopKOrder.TopKThenSoftmax"/> needs k ≥ 2 (a softmax over one value is 1).
        /// </summary>
        public TopKOrder TopKOrder { get; set; } = TopKOrder.SoftmaxThenTopK;

        /// <summary>
        /// Renormalize the k weights to sum to 1 (softmax-then-top-k only); null means "when k &gt; 1". True with k = 1 is
        /// refused: every weight would be 1 and the router would learn nothing from the task loss.
        /// </summary>
        public bool? RenormalizeWeights { get; set; }

        /// <summary>
        /// Top-k router: add a learned float32 bias b [E] to the logits, z = x·Wᵀ + b, before any selection (gpt-oss's router,
        /// an nn.Linear with bias). State-dict name router.bias; initialized to zeros, so a new layer routes as one without
        /// it and a seed draws the same weights. Only for <see cref="RouterKind.TopK"/>. Default false.
        /// </summary>
        public bool RouterBias { get; set; }

        /// <summary>Top-k router: affinities by softmax (the default) or sigmoid (DeepSeek-V3).</summary>
        public ScoreFunction ScoreFunction { get; set; } = ScoreFunction.Softmax;

        /// <summary>
        /// Top-k router: the selected weights are multiplied by this (DeepSeek's routed_scaling_factor), after the optional
        /// renormalization. A finite number &gt; 0. Default 1.
        /// </summary>
        public double RoutedScalingFactor { get; set; } = 1.0;

        /// <summary>
        /// Group-limited routing (DeepSeek-V2/V3): the E experts form this many equal groups (n_group); each token first
        /// keeps the <see cref="TopKGroups"/> best groups by <see cref="GroupScore"/>, then picks its k experts inside them.
        /// Must divide E. Default 1 (no groups).
        /// </summary>
        public int ExpertGroups { get; set; } = 1;

        /// <summary>Groups each token keeps (topk_group), in [1, <see cref="ExpertGroups"/>]. Default 1.</summary>
        public int TopKGroups { get; set; } = 1;

        /// <summary>How a group is scored for group-limited routing. Default the sum of its two largest affinities (V3).</summary>
        public GroupScore GroupScore { get; set; } = GroupScore.SumOfTopTwo;

        /// <summary>
        /// Aux-loss-free load balancing (Wang et al. 2024, arXiv 2408.15664; DeepSeek-V3): a per-expert bias buffer b is
        /// added to the affinities for selection only, and <see cref="MoeLoadBalancing.AfterOptimizerStep"/> moves it by
        /// γ·sign(mean load − load) from the loads the training forwards saw. Top-k router only. Default false.
        /// </summary>
        public bool BalanceBias { get; set; }

        /// <summary>The bias update rate γ of aux-loss-free balancing, a finite number ≥ 0. Default 0.001.</summary>
        public double BalanceBiasRate { get; set; } = 0.001;

        /// <summary>
        /// Experts per token in evaluation, in [1, E]; 0 means <see cref="TopK"/>. Lets a model trained with k = 2 be
        /// evaluated with k = 1 (learned top-k routers and AoE; not Switch or expert choice).
        /// </summary>
        public int EvalTopK { get; set; }

        /// <summary>
        /// Always-on shared experts (DeepSeek, Qwen2-MoE): this many experts of width <see cref="SharedHiddenDim"/> that
        /// every token goes through, run as one dense FFN of width count·width, never through dispatch; their output is
        /// added to the routed output. Default 0.
        /// </summary>
        public int SharedExperts { get; set; }

        /// <summary>Hidden width of each shared expert; 0 means <see cref="HiddenDim"/>.</summary>
        public int SharedHiddenDim { get; set; }

        /// <summary>
        /// Scale the shared experts' output by a learned sigmoid gate σ(x·w_g), one output unit (Qwen2-MoE's
        /// shared_expert_gate). Needs <see cref="SharedExperts"/> ≥ 1. Default false.
        /// </summary>
        public bool SharedExpertGate { get; set; }

        /// <summary>
        /// Whether the layer sits in a causal (decoder) model, where a token must not depend on later tokens. Expert
        /// choice routing needs this to be false, stated explicitly: each expert picks its tokens among the whole batch, so a
        /// token's routing depends on later tokens. Null (the default) means unknown.
        /// </summary>
        public bool? Causal { get; set; }

        /// <summary>
        /// Rank r of each expert's factorized gate projection W_down (d×r)·W_up (r×h), in [1, <see cref="InputDim"/>];
        /// required by <see cref="RouterKind.AutonomyOfExperts"/> and 0 (unused) for every other router.
        /// <see cref="MoeLayers.AutonomyOfExperts.ParameterMatchedHiddenDim"/> gives the matching hidden width.
        /// </summary>
        public int LowRank { get; set; }

        /// <summary>Noisy top-k: start the router and noise weights at zero, as in the paper. Default true.</summary>
        public bool NoisyZeroInit { get; set; } = true;

        /// <summary>Switch: multiplicative input jitter ε in [0, 1). Default 0 (off).</summary>
        public double SwitchJitter { get; set; }

        /// <summary>Expert hidden activation. Default GELU.</summary>
        public ExpertActivation Activation { get; set; } = ExpertActivation.Gelu;

        /// <summary>
        /// The α of <see cref="ExpertActivation.ClampedSwiGlu"/>: G ⊙ σ(α·G). A finite number &gt; 0; must keep its
        /// default for every other activation. Default 1.702 (gpt-oss).
        /// </summary>
        public double SwiGluAlpha { get; set; } = DefaultSwiGluAlpha;

        /// <summary>
        /// The limit of <see cref="ExpertActivation.ClampedSwiGlu"/>: the gate is clamped to at most it, the hidden to
        /// [−limit, limit]. A finite number &gt; 0; must keep its default for every other activation. Default 7.0 (gpt-oss).
        /// </summary>
        public double SwiGluLimit { get; set; } = DefaultSwiGluLimit;

        /// <summary>
        /// Biases in the expert projections: b_in [E, h] and b_out [E, out], and for the gated activations
        /// (<see cref="ExpertActivation.SwiGlu"/>, <see cref="ExpertActivation.ClampedSwiGlu"/>) b_gate [E, h] on the gate
        /// projection; the shared experts likewise. Default false.
        /// </summary>
        public bool ExpertBias { get; set; }

        /// <summary>
        /// Apply each pair's routing weight to the expert's input instead of its output (Llama 4's Llama4TextMoe):
        /// y_t = Σⱼ E_j(w_{t,j}·x_t) instead of Σⱼ w_{t,j}·E_j(x_t). Gradients reach the router through the scaled inputs.
        /// The fused CUDA dispatch does not implement it: such a layer runs the portable dispatch on CUDA tensors too, and
        /// <see cref="UseCudaDispatch"/> = Always is refused. Default false.
        /// </summary>
        public bool WeightExpertInputs { get; set; }

        /// <summary>
        /// Capacity factor cf in training (&gt; 0), or null for dropless routing (the default). Each expert keeps at most
        /// C = ceil(cf·k·T/E) pairs, T counting real (unmasked) tokens, computed exactly on cf's decimal value and clamped
        /// to [<see cref="MinCapacity"/>, T].
        /// </summary>
        public double? CapacityFactor { get; set; }

        /// <summary>Capacity factor in evaluation (&gt; 0), or null for dropless evaluation (the default).</summary>
        public double? EvalCapacityFactor { get; set; }

        /// <summary>Lower bound on the capacity, at least 1. Default 4.</summary>
        public int MinCapacity { get; set; } = 4;

        /// <summary>Which assignments a full expert keeps. Default by position.</summary>
        public DropPolicy DropPolicy { get; set; } = DropPolicy.ByPosition;

        /// <summary>Load-balancing loss. Default <see cref="LoadBalancingLossKind.Switch"/>.</summary>
        public LoadBalancingLossKind LoadBalancingLoss { get; set; } = LoadBalancingLossKind.Switch;

        /// <summary>Coefficient α of the load-balancing loss, ≥ 0. Default 0.01.</summary>
        public double LoadBalancingCoefficient { get; set; } = 0.01;

        /// <summary>Coefficient β of the router z-loss, ≥ 0; 0 disables it. Default 0.001.</summary>
        public double ZLossCoefficient { get; set; } = 0.001;

        /// <summary>How experts are run on the dispatched rows. Default automatic.</summary>
        public DispatchStrategy Dispatch { get; set; } = DispatchStrategy.Auto;

        /// <summary>
        /// Fused CUDA dispatch (package MoeLayers.Cuda) for CUDA inputs. Default <see cref="CudaDispatchMode.Auto"/>: used
        /// when the package is referenced and the input is on a usable CUDA device. The fused path honours
        /// <see cref="Dispatch"/> Auto, Grouped and Padded; <see cref="DispatchStrategy.Reference"/> always runs the plain loop,
        /// so it cannot be combined with <see cref="CudaDispatchMode.Always"/>.
        /// </summary>
        public CudaDispatchMode UseCudaDispatch { get; set; } = CudaDispatchMode.Auto;

        /// <summary>
        /// Run each expert MLP as one autograd function that keeps only the rows and pre-activations for backward and
        /// recomputes the activation there (MegaBlocks' memory_optimized_mlp), with every projection one grouped product.
        /// Default true. False composes TorchSharp autograd ops per projection (more memory: the activation and its
        /// gradients stay alive for the step). The per-expert reference dispatch ignores it.
        /// </summary>
        public bool MemoryOptimizedExperts { get; set; } = true;

        /// <summary>
        /// The routed experts hold weight-only int8 weights with per-output-channel float32 scales, for inference only
        /// (state-dict keys experts.w_in, experts.w_gate, experts.w_out as int8 and experts.w_in_scale,
        /// experts.w_gate_scale, experts.w_out_scale [E, out] as float32; biases float32). Default false. Make such a layer
        /// from a trained or loaded one with <see cref="MoeQuantization.ToInt8Experts"/>, or build it with this option and
        /// load a state dict saved from one. It runs in evaluation mode only: a training forward throws. Not with the
        /// AutonomyOfExperts router.
        /// </summary>
        public bool Int8Experts { get; set; }

        /// <summary>
        /// LoRA adapters on every routed expert (and, by its options, the shared experts), with the base weights, and by
        /// default the router, frozen; null (the default) builds no adapters. State-dict keys experts.lora.a_in [E, d, r],
        /// experts.lora.b_in [E, r, h], experts.lora.a_gate, experts.lora.b_gate (gated activations), experts.lora.a_out
        /// [E, h, r], experts.lora.b_out [E, r, out] for the adapted projections, and shared_experts.lora.* without the
        /// leading E. Not with <see cref="Int8Experts"/> or the AutonomyOfExperts router. <see cref="MoeLora.Apply"/> turns a
        /// trained layer into an adapted one; <see cref="MoeLora.Merge"/> folds the adapters into the weights.
        /// </summary>
        public LoraOptions? Lora { get; set; }

        /// <summary>Compute <see cref="RoutingStatistics"/> after each forward (one host sync). Default true.</summary>
        public bool CollectStatistics { get; set; } = true;

        /// <summary>
        /// Check the input and the routing scores for NaN and Inf in every forward and throw, naming the layer and the
        /// tensor, before any expert is picked from them (one host sync per forward). Default false.
        /// </summary>
        public bool CheckFinite { get; set; }

        /// <summary>The default of <see cref="SwiGluAlpha"/>, gpt-oss's α.</summary>
        internal const double DefaultSwiGluAlpha = 1.702;

        /// <summary>The default of <see cref="SwiGluLimit"/>, gpt-oss's limit.</summary>
        internal const double DefaultSwiGluLimit = 7.0;

        /// <summary>The effective output width.</summary>
        public int EffectiveOutputDim => OutputDim == 0 ? InputDim : OutputDim;

        /// <summary>Experts per token in evaluation mode.</summary>
        public int EffectiveEvalTopK => EvalTopK == 0 ? TopK : EvalTopK;

        /// <summary>The hidden width of each shared expert.</summary>
        public int EffectiveSharedHiddenDim => SharedHiddenDim == 0 ? HiddenDim : SharedHiddenDim;

        /// <summary>A member-wise copy (the <see cref="Lora"/> options copied too).</summary>
        public MoeLayerOptions Clone()
        {
            var copy = (MoeLayerOptions)MemberwiseClone();
            copy.Lora = Lora?.Clone();
            return copy;
        }
    }
}
