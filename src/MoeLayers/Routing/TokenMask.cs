using System;
using System.Linq;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A checked token mask for one forward: which of the T tokens are real (true) and which are padding (false).
    /// Padding takes no expert capacity, gets a zero output and is left out of the auxiliary losses and statistics.
    /// </summary>
    internal sealed class TokenMask(bool[] isReal, Tensor values32)
    {
        private readonly bool[] _isReal = isReal;

        /// <summary>Number of tokens T.</summary>
        public long Tokens => _isReal.LongLength;

        /// <summary>Number of real (unmasked) tokens.</summary>
        public long RealCount { get; } = isReal.LongLength - isReal.Count(real => !real);

        /// <summary>Whether any token is padding.</summary>
        public bool HasPadding => RealCount < Tokens;

        /// <summary>For each token, whether it is real.</summary>
        public ReadOnlySpan<bool> IsReal => _isReal;

        /// <summary>The mask as float32 [T] on the layer's device: 1 for real tokens, 0 for padding.</summary>
        public Tensor Values32 { get; } = values32;

        /// <summary>
        /// Checks a user mask with the input's leading shape and flattens it to [T]: a bool tensor, or a numeric tensor
        /// holding only 0 and 1. Anything else (5, −3, NaN) is refused with an <see cref="ArgumentException"/> naming
        /// <paramref name="name"/> and the first bad value.
        /// </summary>
        /// <param name="mask">The mask, or null.</param>
        /// <param name="leadShape">The input's shape without its last dimension.</param>
        /// <param name="device">The layer's device.</param>
        /// <param name="name">Argument name for messages.</param>
        public static TokenMask? From(Tensor? mask, long[] leadShape, Device device, string name)
        {
            if (mask is null) return null;
            if (!mask.shape.SequenceEqual(leadShape))
                throw new ArgumentException($"{name} must have shape [{string.Join(", ", leadShape)}] (the input's shape without its last dimension); got {Guard.Shape(mask)}.", name);
            Guard.SameDevice(mask, device, name);
            if (mask.dtype == ScalarType.Bool)
            {
                using var flatBool = mask.reshape(-1);
                return new TokenMask(HostCopy.ToArray<bool>(flatBool), flatBool.to(ScalarType.Float32));
            }
            if (mask.is_complex())
                throw new ArgumentException($"{name} must be a bool tensor or hold only 0 and 1; got dtype {mask.dtype}.", name);
            using var flat = mask.reshape(-1);
            var values = HostCopy.ToArray<double>(flat.to(ScalarType.Float64));
            for (var i = 0; i < values.Length; i++)
            {
                if (values[i] != 0 && values[i] != 1)
                    throw new ArgumentException($"{name} must be a bool tensor or hold only 0 and 1 (1 = real token, 0 = padding); found {values[i]} at flat position {i}.", name);
            }
            return new TokenMask(values.Select(v => v == 1).ToArray(), flat.to(ScalarType.Float32));
        }
    }
}
