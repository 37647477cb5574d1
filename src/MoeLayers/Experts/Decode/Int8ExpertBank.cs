using System;
using System.Linq;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// E two-layer feed-forward experts in weight-only int8, for inference (<see cref="MoeLayerOptions.Int8Experts"/>):
    /// buffers w_in [E, d, h], w_gate [E, d, h] (gated activations only) and w_out [E, h, out] as int8 with
    /// per-output-channel float32 scales w_in_scale [E, h], w_gate_scale [E, h], w_out_scale [E, out]
    /// (<see cref="Int8Quantization"/>), and float32 biases b_in, b_gate, b_out with biases. The expert MLP is
    /// <see cref="ExpertBank"/>'s with W = q·s. Calls that <see cref="ExpertDecode.Applies"/> takes run the decode kernels
    /// on the int8 values (the scale multiplies each output channel's sum); every other call runs the grouped, padded or
    /// single-expert products on weights dequantized for that call (the grouped path only the experts with rows; released
    /// after it).
    /// A training forward throws: there is nothing to train.
    /// </summary>
    internal sealed class Int8ExpertBank : nn.Module, IExpertBank
    {
        [ComponentName(Name = "w_in")]
        private readonly Tensor _wIn;

        [ComponentName(Name = "w_in_scale")]
        private readonly Tensor _wInScale;

        [ComponentName(Name = "w_gate")]
        private readonly Tensor? _wGate;

        [ComponentName(Name = "w_gate_scale")]
        private readonly Tensor? _wGateScale;

        [ComponentName(Name = "w_out")]
        private readonly Tensor _wOut;

        [ComponentName(Name = "w_out_scale")]
        private readonly Tensor _wOutScale;

        [ComponentName(Name = "b_in")]
        private readonly Tensor? _bIn;

        [ComponentName(Name = "b_gate")]
        private readonly Tensor? _bGate;

        [ComponentName(Name = "b_out")]
        private readonly Tensor? _bOut;

        private readonly ActivationFunction _activation;

        /// <summary>Creates E int8 experts holding zeros (scales 0), to be filled by a state dict.</summary>
        /// <param name="numExperts">Number of experts E (at least 1).</param>
        /// <param name="inputDim">Input width d.</param>
        /// <param name="hiddenDim">Hidden width h.</param>
        /// <param name="outputDim">Output width.</param>
        /// <param name="activation">Hidden activation.</param>
        /// <param name="bias">Biases on every projection.</param>
        /// <param name="name">Module name.</param>
        public Int8ExpertBank(int numExperts, int inputDim, int hiddenDim, int outputDim, ActivationFunction activation, bool bias,
            string name = "experts")
            : base(TorchSharpNative.Checked(name))
        {
            Guard.Positive(numExperts, nameof(numExperts));
            Guard.Positive(inputDim, nameof(inputDim));
            Guard.Positive(hiddenDim, nameof(hiddenDim));
            Guard.Positive(outputDim, nameof(outputDim));
            Guard.Defined(activation.Kind, nameof(activation));
            (NumExperts, InputDim, OutputDim, _activation) = (numExperts, inputDim, outputDim, activation);
            (_wIn, _wInScale) = (Int8Zeros(numExperts, inputDim, hiddenDim), Float32Zeros(numExperts, hiddenDim));
            if (activation.IsGated) (_wGate, _wGateScale) = (Int8Zeros(numExperts, inputDim, hiddenDim), Float32Zeros(numExperts, hiddenDim));
            (_wOut, _wOutScale) = (Int8Zeros(numExperts, hiddenDim, outputDim), Float32Zeros(numExperts, outputDim));
            if (bias)
            {
                _bIn = Float32Zeros(numExperts, hiddenDim);
                if (activation.IsGated) _bGate = Float32Zeros(numExperts, hiddenDim);
                _bOut = Float32Zeros(numExperts, outputDim);
            }
            RegisterComponents();
        }

        /// <summary>Number of experts E.</summary>
        public int NumExperts { get; }

        /// <summary>Input width d.</summary>
        public int InputDim { get; }

        /// <summary>Output width.</summary>
        public int OutputDim { get; }

        /// <summary>The scales of w_in [E, h]: their dtype and device are the activations'.</summary>
        public Tensor InputScale => _wInScale;

        /// <inheritdoc />
        public Tensor ForwardSorted(Tensor rows, long[] counts, Tensor assignments, IGroupedMatmul matmul)
        {
            RefuseTraining();
            if (ExpertDecode.Applies(rows, counts, [_wIn, _wInScale, _wGate, _wGateScale, _wOut, _wOutScale, _bIn, _bGate, _bOut]))
            {
                return ExpertDecode.Run(rows, counts, new DecodeProjection(_wIn, _wInScale, _bIn),
                    _wGate is null ? null : new DecodeProjection(_wGate, _wGateScale, _bGate), new DecodeProjection(_wOut, _wOutScale, _bOut), _activation);
            }
            // Only the experts with rows are dequantized (the rows are expert-contiguous, so leaving out the empty groups
            // keeps their order): a call reads and widens the weights it uses, not all E experts'.
            using var scope = NewDisposeScope();
            var active = Enumerable.Range(0, counts.Length).Where(e => counts[e] > 0).Select(e => (long)e).ToArray();
            var activeCounts = active.Select(e => counts[e]).ToArray();
            return Dequantized(rows.dtype, tensor(active, device: _wIn.device)).Grouped(rows, null, activeCounts, matmul).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public Tensor ForwardPadded(Tensor padded, Tensor assignments)
        {
            RefuseTraining();
            using var scope = NewDisposeScope();
            return Dequantized(padded.dtype, null).Padded(padded, null).MoveToOuterDisposeScope();
        }

        /// <inheritdoc />
        public Tensor ForwardExpert(int expert, Tensor rows, Tensor tokens)
        {
            RefuseTraining();
            using var scope = NewDisposeScope();
            return Dequantized(rows.dtype, tensor(new long[] { expert }, device: _wIn.device)).Single(0, rows, null).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// The expert MLP on weights q·s in <paramref name="dtype"/>: all experts, or only those <paramref name="experts"/>
        /// lists (renumbered 0, 1, … in that order).
        /// </summary>
        private ExpertMlp Dequantized(ScalarType dtype, Tensor? experts)
        {
            Tensor? Take(Tensor? t) => t is null ? null : experts is null ? t : t.index_select(0, experts);
            Tensor? Weight(Tensor? values, Tensor? scales) =>
                values is null ? null : Int8Quantization.Dequantize(Take(values)!, Take(scales)!, dtype);
            Tensor? Bias(Tensor? bias) => Take(bias)?.to(dtype);
            return new ExpertMlp(Weight(_wIn, _wInScale)!, Weight(_wGate, _wGateScale), Weight(_wOut, _wOutScale)!, Bias(_bIn), Bias(_bGate),
                Bias(_bOut), _activation, MemoryOptimized: false);
        }

        private void RefuseTraining()
        {
            if (training)
                throw new InvalidOperationException(
                    $"The int8 experts ({nameof(MoeLayerOptions)}.{nameof(MoeLayerOptions.Int8Experts)}) run in evaluation mode only: " +
                    "call eval() on the layer (or the model) before its forward; they hold no trainable weights.");
        }

        private static Tensor Int8Zeros(params long[] shape)
        {
            var values = zeros(shape, ScalarType.Int8);
            values.DetachFromDisposeScope();
            return values;
        }

        private static Tensor Float32Zeros(params long[] shape)
        {
            var zerosOfShape = zeros(shape, ScalarType.Float32);
            zerosOfShape.DetachFromDisposeScope();
            return zerosOfShape;
        }
    }
}
