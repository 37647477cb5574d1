using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The dense SwiGLU feed-forward of the layers the schedule keeps dense (Qwen3MoeMLP, Glm4MoeMLP):
    /// down_proj(silu(gate_proj(x)) · up_proj(x)), no biases. State dict: gate_proj, up_proj, down_proj.
    /// </summary>
    public sealed class DenseMlp : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "gate_proj")]
        private readonly AdaptableLinear _gate;

        [ComponentName(Name = "up_proj")]
        private readonly AdaptableLinear _up;

        [ComponentName(Name = "down_proj")]
        private readonly AdaptableLinear _down;

        /// <summary>Creates the MLP d → width → d.</summary>
        /// <param name="hidden">d.</param>
        /// <param name="width">intermediate_size.</param>
        /// <param name="dtype">The weights' dtype.</param>
        public DenseMlp(long hidden, long width, ScalarType dtype) : base("mlp")
        {
            _gate = new AdaptableLinear(hidden, width, hasBias: false, dtype);
            _up = new AdaptableLinear(hidden, width, hasBias: false, dtype);
            _down = new AdaptableLinear(width, hidden, hasBias: false, dtype);
            RegisterComponents();
        }

        /// <summary>x [..., d] → [..., d].</summary>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            return _down.call(nn.functional.silu(_gate.call(input)) * _up.call(input)).MoveToOuterDisposeScope();
        }
    }
}
