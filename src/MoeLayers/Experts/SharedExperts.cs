using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// Always-on shared experts (DeepSeek's shared_experts, Qwen2-MoE's shared_expert): n experts of width h_s that every
    /// token goes through, run as one dense FFN of width n·h_s (the same function as n separate experts summed), never
    /// through dispatch. With a gate (Qwen2-MoE's shared_expert_gate) the output is scaled by σ(x·w_g), one unit per token.
    /// State dict names: w_in [d, n·h_s], w_gate (gated activations), w_out [n·h_s, out], b_in, b_gate (biases with a gated
    /// activation), b_out, gate [1, d]; with LoRA (<see cref="LoraOptions.AdaptSharedExperts"/>) lora.a_in [d, r],
    /// lora.b_in [r, n·h_s], … (<see cref="LoraAdapters"/> without the leading E). The activation is the routed experts'
    /// (<see cref="ActivationFunction.Apply"/>).
    /// </summary>
    internal sealed class SharedExperts : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "w_in")]
        private readonly Parameter _wIn;

        [ComponentName(Name = "w_gate")]
        private readonly Parameter? _wGate;

        [ComponentName(Name = "w_out")]
        private readonly Parameter _wOut;

        [ComponentName(Name = "b_in")]
        private readonly Parameter? _bIn;

        [ComponentName(Name = "b_gate")]
        private readonly Parameter? _bGate;

        [ComponentName(Name = "b_out")]
        private readonly Parameter? _bOut;

        [ComponentName(Name = "gate")]
        private readonly Parameter? _gate;

        [ComponentName(Name = "lora")]
        private readonly LoraAdapters? _adapters;

        private readonly ActivationFunction _activation;

        /// <summary>Creates n shared experts initialized like nn.Linear.</summary>
        /// <param name="count">Number of shared experts n (at least 1).</param>
        /// <param name="inputDim">Input width d.</param>
        /// <param name="hiddenDim">Hidden width h_s of each shared expert.</param>
        /// <param name="outputDim">Output width.</param>
        /// <param name="activation">Hidden activation.</param>
        /// <param name="bias">Biases in every projection: b_in, b_out and, for a gated activation, b_gate.</param>
        /// <param name="gated">Scale the output by σ(x·w_g).</param>
        /// <param name="lora">LoRA adapters on the fused projections, or null.</param>
        /// <param name="name">Module name.</param>
        public SharedExperts(int count, int inputDim, int hiddenDim, int outputDim, ActivationFunction activation, bool bias, bool gated,
            LoraOptions? lora = null, string name = "shared_experts")
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(count, nameof(count));
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(hiddenDim, nameof(hiddenDim));
            Guard.Positive(outputDim, nameof(outputDim));
            Guard.Defined(activation.Kind, nameof(activation));
            var width = (long)count * hiddenDim;
            Count = count;
            HiddenDim = hiddenDim;
            _activation = activation;
            // Each expert's block of the fused weight is initialized as that expert alone would be (fan-in d, and h_s for w_out).
            _wIn = Init.Parameter(Init.Uniform(inputDim, inputDim, width));
            if (activation.IsGated) _wGate = Init.Parameter(Init.Uniform(inputDim, inputDim, width));
            _wOut = Init.Parameter(Init.Uniform(hiddenDim, width, outputDim));
            if (bias)
            {
                _bIn = Init.Parameter(Init.Uniform(inputDim, width));
                _bOut = Init.Parameter(Init.Uniform(hiddenDim, outputDim));
            }
            if (gated) _gate = Init.Parameter(Init.Uniform(inputDim, 1, inputDim));
            // Drawn last, so the other parameters get the values a seed gave them before the gate projection had a bias.
            if (bias && activation.IsGated) _bGate = Init.Parameter(Init.Uniform(inputDim, width));
            if (lora is not null) _adapters = new LoraAdapters([], inputDim, (int)width, outputDim, activation.IsGated, lora);
            RegisterComponents();
        }

        /// <summary>Number of shared experts n.</summary>
        public int Count { get; }

        /// <summary>Hidden width of each shared expert.</summary>
        public int HiddenDim { get; }

        /// <summary>Fused input projection [d, n·h_s].</summary>
        public Parameter InputWeight => _wIn;

        /// <summary>Fused gate projection [d, n·h_s] (gated activations), else null.</summary>
        public Parameter? GateWeight => _wGate;

        /// <summary>Fused gate bias [n·h_s] (biases with a gated activation), else null.</summary>
        public Parameter? GateBias => _bGate;

        /// <summary>Fused output projection [n·h_s, out].</summary>
        public Parameter OutputWeight => _wOut;

        /// <summary>The output gate w_g [1, d], or null.</summary>
        public Parameter? OutputGate => _gate;

        /// <summary>The shared experts' output for rows x [T, d]: [T, out].</summary>
        public override Tensor forward(Tensor input)
        {
            var updates = _adapters?.Updates(input.dtype);
            var hidden = Adapted(_bIn is null ? input.matmul(_wIn) : _bIn.addmm(input, _wIn), input, updates?.Input);
            var gate = _wGate is null ? null : Adapted(_bGate is null ? input.matmul(_wGate) : _bGate.addmm(input, _wGate), input, updates?.Gate);
            hidden = _activation.Apply(hidden, gate);
            var output = Adapted(_bOut is null ? hidden.matmul(_wOut) : _bOut.addmm(hidden, _wOut), hidden, updates?.Output);
            return _gate is null ? output : output * nn.functional.linear(input, _gate).sigmoid();
        }

        /// <summary>The LoRA adapters, or null.</summary>
        public LoraAdapters? Adapters => _adapters;

        /// <summary>Adds (<paramref name="merge"/>) or subtracts the adapters' updates to the fused weights (<see cref="LoraAdapters.Fold"/>).</summary>
        /// <param name="merge">True to merge, false to unmerge.</param>
        public void FoldAdapters(bool merge) =>
            (_adapters ?? throw new System.InvalidOperationException("These shared experts have no LoRA adapters.")).Fold(_wIn, _wGate, _wOut, merge);

        private static Tensor Adapted(Tensor projected, Tensor input, LowRankUpdate? update) =>
            update is { } u ? projected + input.matmul(u.Down).matmul(u.Up) : projected;
    }
}
