using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// RMSNorm as the five families compute it: x · rsqrt(mean(x²) + eps) in float32, then the weight — multiplied after
    /// casting back to the input's dtype (Qwen3MoeRMSNorm, OlmoeRMSNorm, MixtralRMSNorm, Glm4MoeRMSNorm: LlamaRMSNorm), or
    /// in float32 before casting back (GptOssRMSNorm). State dict: weight [width].
    /// </summary>
    public sealed class RmsNorm : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "weight")]
        private readonly Parameter _weight;

        private readonly double _eps;
        private readonly bool _weightInFloat32;

        /// <summary>Creates the norm over the last dimension of width <paramref name="width"/> (weight ones).</summary>
        /// <param name="width">The normalized width.</param>
        /// <param name="eps">rms_norm_eps.</param>
        /// <param name="weightInFloat32">Multiply by the weight in float32 before casting back (gpt-oss).</param>
        /// <param name="dtype">The weight's dtype.</param>
        public RmsNorm(long width, double eps, bool weightInFloat32, ScalarType dtype) : base("rms_norm")
        {
            _eps = eps;
            _weightInFloat32 = weightInFloat32;
            _weight = new Parameter(ones(width, dtype: dtype), requires_grad: false);
            RegisterComponents();
        }

        /// <summary>Normalizes x [..., width]; returns the same shape and dtype.</summary>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var x = input.to(ScalarType.Float32);
            var normalized = x * rsqrt(x.pow(2).mean(new long[] { -1 }, keepdim: true) + _eps);
            var result = _weightInFloat32
                ? (_weight.to(ScalarType.Float32) * normalized).to(input.dtype)
                : _weight * normalized.to(input.dtype);
            return result.MoveToOuterDisposeScope();
        }
    }
}
