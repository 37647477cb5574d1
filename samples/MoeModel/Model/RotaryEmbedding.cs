using System;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// Rotary position embedding: the inverse frequencies of <see cref="RopeSettings"/> (default, or YaRN), the cos/sin
    /// tables of a run of positions, and their application to the first rotary_dim channels of each head.
    /// </summary>
    /// <remarks>
    /// Transcribed from transformers: the default and YaRN inverse frequencies of modeling_rope_utils.py
    /// (_compute_default_rope_parameters; _compute_yarn_parameters with rope_scaling.truncate), the float32 tables of
    /// LlamaRotaryEmbedding.forward (cos/sin of cat(freqs, freqs), times the attention scaling), rotate_half and
    /// apply_rotary_pos_emb; GLM-4.5's partial rotary (modeling_glm4_moe.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6)
    /// rotates the leading rotary_dim channels and passes the rest. gpt-oss's _apply_rotary_emb
    /// ((x1·cos − x2·sin, x2·cos + x1·sin) on half tables) is the same arithmetic.
    /// </remarks>
    public sealed class RotaryEmbedding
    {
        private readonly float[] _inverseFrequencies;

        /// <summary>Computes the inverse frequencies of <paramref name="settings"/>.</summary>
        /// <param name="settings">rope_theta, the rotated width and the YaRN scaling.</param>
        public RotaryEmbedding(RopeSettings settings)
        {
            ArgumentNullException.ThrowIfNull(settings);
            Settings = settings;
            _inverseFrequencies = settings.Yarn is { } yarn ? YarnFrequencies(settings, yarn) : DefaultFrequencies(settings);
            Scaling = settings.Yarn?.AttentionFactor ?? 1.0;
        }

        /// <summary>The settings.</summary>
        public RopeSettings Settings { get; }

        /// <summary>The factor cos and sin are multiplied by (YaRN's attention factor; 1 otherwise).</summary>
        public double Scaling { get; }

        /// <summary>The inverse frequencies [rotary_dim / 2], float32 as transformers computes them.</summary>
        public Tensor InverseFrequencies() => tensor(_inverseFrequencies);

        /// <summary>cos and sin [length, rotary_dim] for positions start … start + length − 1, float32, cast to <paramref name="dtype"/>.</summary>
        /// <param name="start">The first position.</param>
        /// <param name="length">How many positions.</param>
        /// <param name="dtype">The dtype the attention computes in (transformers casts the tables to it).</param>
        /// <param name="device">Where the tables go.</param>
        public (Tensor Cos, Tensor Sin) Tables(long start, long length, ScalarType dtype, Device device)
        {
            using var scope = NewDisposeScope();
            var positions = arange(start, start + length, dtype: ScalarType.Int64).to(ScalarType.Float32);
            var frequencies = positions.unsqueeze(1) * InverseFrequencies().unsqueeze(0);
            var angles = cat(new[] { frequencies, frequencies }, dim: -1);
            var cos = (angles.cos() * Scaling).to(dtype).to(device);
            var sin = (angles.sin() * Scaling).to(dtype).to(device);
            return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
        }

        /// <summary>Rotates the first rotary_dim channels of x [B, H, T, head_dim] by the tables [T, rotary_dim]; passes the rest.</summary>
        /// <param name="x">Queries or keys, heads before positions.</param>
        /// <param name="cos">The cos table of x's positions.</param>
        /// <param name="sin">The sin table of x's positions.</param>
        public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
        {
            using var scope = NewDisposeScope();
            var rotary = cos.shape[^1];
            var headDim = x.shape[^1];
            var rotated = x.narrow(-1, 0, rotary);
            var half = rotary / 2;
            var rotatedHalf = cat(new[] { -rotated.narrow(-1, half, half), rotated.narrow(-1, 0, half) }, dim: -1);
            var result = rotated * cos + rotatedHalf * sin;
            if (rotary < headDim) result = cat(new[] { result, x.narrow(-1, rotary, headDim - rotary) }, dim: -1);
            return result.MoveToOuterDisposeScope();
        }

        /// <summary>1 / theta^(arange(0, dim, 2) / dim), in float32.</summary>
        private static float[] DefaultFrequencies(RopeSettings settings)
        {
            using var scope = NewDisposeScope();
            var exponents = arange(0, settings.RotaryDim, 2, dtype: ScalarType.Int64).to(ScalarType.Float32) / settings.RotaryDim;
            return (1.0 / pow(settings.Theta, exponents)).data<float>().ToArray();
        }

        /// <summary>_compute_yarn_parameters: a linear ramp between interpolated (÷ factor) and extrapolated frequencies
        /// over the correction range of beta_fast … beta_slow rotations at original_max_position_embeddings.</summary>
        private static float[] YarnFrequencies(RopeSettings settings, YarnScaling yarn)
        {
            var dim = settings.RotaryDim;
            var theta = settings.Theta;
            double CorrectionDim(double rotations) =>
                dim * Math.Log(yarn.OriginalMaxPositions / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
            var low = CorrectionDim(yarn.BetaFast);
            var high = CorrectionDim(yarn.BetaSlow);
            if (yarn.Truncate)
            {
                low = Math.Floor(low);
                high = Math.Ceiling(high);
            }
            low = Math.Max(low, 0);
            high = Math.Min(high, dim - 1);
            if (low == high) high += 0.001;
            using var scope = NewDisposeScope();
            var ramp = ((arange(dim / 2, dtype: ScalarType.Float32) - low) / (high - low)).clamp(0, 1);
            var positionFrequencies = pow(theta, arange(0, dim, 2, dtype: ScalarType.Int64).to(ScalarType.Float32) / dim);
            var extrapolation = 1.0 / positionFrequencies;
            var interpolation = 1.0 / (yarn.Factor * positionFrequencies);
            var extrapolationFactor = 1 - ramp;
            var inverse = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
            return inverse.data<float>().ToArray();
        }
    }
}
