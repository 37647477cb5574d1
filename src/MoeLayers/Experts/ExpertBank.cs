using System;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// E two-layer feed-forward experts with stacked weights — w_in [E, d, h], w_gate [E, d, h] (gated activations only),
    /// w_out [E, h, out], optional biases b_in [E, h], b_gate [E, h] (gated activations only) and b_out [E, out] — so a
    /// dispatcher can run them as one batched
    /// product or as per-expert products on contiguous row blocks. The output width may differ from the input width.
    /// </summary>
    internal sealed class ExpertBank : nn.Module, IExpertBank
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

        [ComponentName(Name = "lora")]
        private readonly LoraAdapters? _adapters;

        private readonly ActivationFunction _activation;

        /// <summary>Creates E experts initialized like nn.Linear (uniform ±1/√fan_in for weights and biases).</summary>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="inputDim">Input width d.</param>
        /// <param name="hiddenDim">Hidden width h.</param>
        /// <param name="outputDim">Output width (often d).</param>
        /// <param name="activation">Hidden activation (an <see cref="ExpertActivation"/> converts, with gpt-oss's constants).</param>
        /// <param name="bias">Add biases to every projection: b_in, b_out and, for a gated activation, b_gate.</param>
        /// <param name="memoryOptimized">
        /// Run the sorted and padded forwards as one <see cref="ExpertMlpFunction"/> that recomputes the activation in
        /// backward (<see cref="MoeLayerOptions.MemoryOptimizedExperts"/>); false composes autograd ops as before.
        /// </param>
        /// <param name="lora">LoRA adapters on every expert (<see cref="MoeLayerOptions.Lora"/>), or null.</param>
        /// <param name="name">Module name.</param>
        public ExpertBank(int numExperts, int inputDim, int hiddenDim, int outputDim,
            ActivationFunction activation, bool bias = false, bool memoryOptimized = true, LoraOptions? lora = null, string name = "experts")
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(numExperts, nameof(numExperts));
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(hiddenDim, nameof(hiddenDim));
            Guard.Positive(outputDim, nameof(outputDim));
            Guard.Defined(activation.Kind, nameof(activation));
            NumExperts = numExperts;
            InputDim = inputDim;
            OutputDim = outputDim;
            _activation = activation;
            MemoryOptimized = memoryOptimized;

            _wIn = Init.Parameter(Init.Uniform(inputDim, numExperts, inputDim, hiddenDim));
            if (activation.IsGated) _wGate = Init.Parameter(Init.Uniform(inputDim, numExperts, inputDim, hiddenDim));
            _wOut = Init.Parameter(Init.Uniform(hiddenDim, numExperts, hiddenDim, outputDim));
            if (bias)
            {
                _bIn = Init.Parameter(Init.Uniform(inputDim, numExperts, hiddenDim));
                _bOut = Init.Parameter(Init.Uniform(hiddenDim, numExperts, outputDim));
                // Drawn last, so the other parameters get the values a seed gave them before the gate had a bias.
                if (activation.IsGated) _bGate = Init.Parameter(Init.Uniform(inputDim, numExperts, hiddenDim));
            }
            // Drawn after the base weights, so a seed gives an adapted layer the base weights it gives a plain one.
            if (lora is not null) _adapters = new LoraAdapters([numExperts], inputDim, hiddenDim, outputDim, activation.IsGated, lora);
            RegisterComponents();
        }

        /// <summary>Number of experts E.</summary>
        public int NumExperts { get; }

        /// <summary>Input width d.</summary>
        public int InputDim { get; }

        /// <summary>Output width.</summary>
        public int OutputDim { get; }

        /// <summary>Whether the sorted and padded forwards run as one memory-optimized <see cref="ExpertMlpFunction"/>.</summary>
        public bool MemoryOptimized { get; }

        /// <summary>Input projection [E, d, h].</summary>
        public Parameter InputWeight => _wIn;

        /// <summary>Gate projection [E, d, h] (gated activations only), else null.</summary>
        public Parameter? GateWeight => _wGate;

        /// <summary>Gate bias [E, h] (biases with a gated activation), else null.</summary>
        public Parameter? GateBias => _bGate;

        /// <summary>The hidden activation.</summary>
        public ActivationFunction Activation => _activation;

        /// <summary>Output projection [E, h, out].</summary>
        public Parameter OutputWeight => _wOut;

        /// <summary>The LoRA adapters (<see cref="MoeLayerOptions.Lora"/>), or null.</summary>
        public LoraAdapters? Adapters => _adapters;

        /// <inheritdoc />
        /// <remarks>
        /// A call that needs no autograd graph with few rows per expert (<see cref="ExpertDecode.MaxRowsPerExpert"/>, by the weights' dtype) on
        /// the CPU runs the decode kernels (<see cref="ExpertDecode.Applies"/> states the rule) — unless the bank has LoRA
        /// adapters that are not merged, which the kernels do not compute; every other call the grouped products.
        /// </remarks>
        public Tensor ForwardSorted(Tensor rows, long[] counts, Tensor assignments, IGroupedMatmul matmul)
        {
            var mlp = Mlp(rows.dtype);
            return mlp.Adapters is null && ExpertDecode.Applies(rows, counts, [_wIn, _wGate, _wOut, _bIn, _bGate, _bOut])
                ? ExpertDecode.Run(rows, counts, new DecodeProjection(_wIn, null, _bIn),
                    _wGate is null ? null : new DecodeProjection(_wGate, null, _bGate), new DecodeProjection(_wOut, null, _bOut), _activation)
                : mlp.Grouped(rows, null, counts, matmul);
        }

        /// <inheritdoc />
        public Tensor ForwardPadded(Tensor padded, Tensor assignments) => Mlp(padded.dtype).Padded(padded, null);

        /// <inheritdoc />
        public Tensor ForwardExpert(int expert, Tensor rows, Tensor tokens) => Mlp(rows.dtype).Single(expert, rows, null);

        /// <summary>Adds (<paramref name="merge"/>) or subtracts the adapters' updates to the weights (<see cref="LoraAdapters.Fold"/>).</summary>
        /// <param name="merge">True to merge, false to unmerge.</param>
        public void FoldAdapters(bool merge) =>
            (_adapters ?? throw new InvalidOperationException("These experts have no LoRA adapters.")).Fold(_wIn, _wGate, _wOut, merge);

        /// <summary>The expert MLP for rows of <paramref name="dtype"/>: the weights, and the adapters' updates unless merged.</summary>
        private ExpertMlp Mlp(ScalarType dtype) =>
            new(_wIn, _wGate, _wOut, _bIn, _bGate, _bOut, _activation, MemoryOptimized, _adapters?.Updates(dtype));
    }
}
