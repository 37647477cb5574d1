using System;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The E experts of an Autonomy-of-Experts layer (Lv et al. 2025): SwiGLU blocks whose gate projection (d×h) is
    /// factorized as W_down (d×r) · W_up (r×h), so expert i computes
    /// E_i(x) = (SiLU(a_i·W_up_i) ⊙ x·W_in_i) · W_out_i with a_i = x·W_down_i.
    /// The E down projections are one fused matrix w_down [d, E·r] (expert e in columns e·r … e·r + r − 1): one product
    /// gives every expert's a_i, the layer routes on their norms, and the selected experts continue from the cached a_i.
    /// State dict names: w_down [d, E·r], w_up [E, r, h], w_in [E, d, h], w_out [E, h, out]. No biases.
    /// </summary>
    internal sealed class LowRankExpertBank : nn.Module
    {
        [ComponentName(Name = "w_down")]
        private readonly Parameter _wDown;

        [ComponentName(Name = "w_up")]
        private readonly Parameter _wUp;

        [ComponentName(Name = "w_in")]
        private readonly Parameter _wIn;

        [ComponentName(Name = "w_out")]
        private readonly Parameter _wOut;

        /// <summary>Creates E experts initialized like nn.Linear (uniform ±1/√fan_in per projection).</summary>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="inputDim">Input width d.</param>
        /// <param name="hiddenDim">Hidden width h.</param>
        /// <param name="outputDim">Output width (often d).</param>
        /// <param name="lowRank">Rank r of the factorized gate projection, in [1, d].</param>
        /// <param name="memoryOptimized">
        /// Run the sorted and padded continuations as one <see cref="ExpertMlpFunction"/> that recomputes the SwiGLU
        /// product in backward (<see cref="MoeLayerOptions.MemoryOptimizedExperts"/>); false composes autograd ops.
        /// </param>
        /// <param name="name">Module name.</param>
        public LowRankExpertBank(int numExperts, int inputDim, int hiddenDim, int outputDim, int lowRank, bool memoryOptimized = true, string name = "experts")
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(numExperts, nameof(numExperts));
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(hiddenDim, nameof(hiddenDim));
            Guard.Positive(outputDim, nameof(outputDim));
            Guard.InRange(lowRank, 1, inputDim, nameof(lowRank));
            NumExperts = numExperts;
            InputDim = inputDim;
            OutputDim = outputDim;
            LowRank = lowRank;
            MemoryOptimized = memoryOptimized;

            _wDown = Init.Parameter(Init.Uniform(inputDim, inputDim, numExperts * lowRank));
            _wUp = Init.Parameter(Init.Uniform(lowRank, numExperts, lowRank, hiddenDim));
            _wIn = Init.Parameter(Init.Uniform(inputDim, numExperts, inputDim, hiddenDim));
            _wOut = Init.Parameter(Init.Uniform(hiddenDim, numExperts, hiddenDim, outputDim));
            RegisterComponents();
        }

        /// <summary>Number of experts E.</summary>
        public int NumExperts { get; }

        /// <summary>Input width d.</summary>
        public int InputDim { get; }

        /// <summary>Output width.</summary>
        public int OutputDim { get; }

        /// <summary>Rank r of the factorized gate projection.</summary>
        public int LowRank { get; }

        /// <summary>Whether the continuations run as one memory-optimized <see cref="ExpertMlpFunction"/>.</summary>
        public bool MemoryOptimized { get; }

        /// <summary>Fused down projections W_down of all experts [d, E·r].</summary>
        public Parameter DownWeight => _wDown;

        /// <summary>Up projections W_up [E, r, h] (second factor of the gate projection).</summary>
        public Parameter UpWeight => _wUp;

        /// <summary>Value projections W_in [E, d, h] (W_p in the paper).</summary>
        public Parameter InputWeight => _wIn;

        /// <summary>Output projections W_out [E, h, out] (W_o in the paper).</summary>
        public Parameter OutputWeight => _wOut;

        /// <summary>Every expert's low-rank activation a = x·W_down for rows x [T, d], as [T, E·r].</summary>
        internal Tensor Down(Tensor input) => input.matmul(_wDown);

        /// <summary>
        /// The experts seen by a dispatcher for one forward: they continue from the cached activations, which the returned
        /// value owns and frees when disposed.
        /// </summary>
        internal Continuation Continue(SelectedActivations activations)
        {
            if (activations.LowRank != LowRank)
                throw new ArgumentException($"activations must have rank {LowRank}; got {activations.LowRank}.", nameof(activations));
            return new Continuation(this, activations);
        }

        /// <summary>Second half of each selected expert: (SiLU(a·W_up) ⊙ x·W_in)·W_out, for one forward.</summary>
        internal sealed class Continuation(LowRankExpertBank bank, SelectedActivations activations) : IExpertBank, IDisposable
        {
            private readonly LowRankExpertBank _bank = bank;
            private readonly SelectedActivations _activations = activations;

            public int NumExperts => _bank.NumExperts;

            public int InputDim => _bank.InputDim;

            public int OutputDim => _bank.OutputDim;

            public Tensor ForwardSorted(Tensor rows, long[] counts, Tensor assignments, IGroupedMatmul matmul) =>
                Mlp.Grouped(rows, _activations.Gather(assignments), counts, matmul);

            public Tensor ForwardPadded(Tensor padded, Tensor assignments) => Mlp.Padded(padded, _activations.Gather(assignments));

            public Tensor ForwardExpert(int expert, Tensor rows, Tensor tokens) =>
                Mlp.Single(expert, rows, _activations.Gather(tokens * NumExperts + expert));

            /// <summary>A SwiGLU MLP whose gate reads the cached activations a through W_up: (SiLU(a·W_up) ⊙ x·W_in)·W_out.</summary>
            private ExpertMlp Mlp => new(_bank._wIn, _bank._wUp, _bank._wOut, null, null, null, ExpertActivation.SwiGlu, _bank.MemoryOptimized);

            /// <summary>Frees the cached activations once the experts have run (autograd keeps what it needs).</summary>
            public void Dispose() => _activations.Dispose();
        }
    }
}
