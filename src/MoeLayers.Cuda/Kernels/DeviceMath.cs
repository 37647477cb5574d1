using ILGPU;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// Math the kernels need beyond + − × ÷. ILGPU's PTX backend maps exp only through the separate ILGPU.Algorithms
    /// package, so exp is written out here: plain float arithmetic that the CPU accelerator and the GPU evaluate alike.
    /// </summary>
    internal static class DeviceMath
    {
        private const float Log2E = 1.44269504088896341f;

        // ln 2 split in a part with few significant bits (exact when multiplied by a small integer) and the rest.
        private const float Ln2High = 0.693145751953125f;
        private const float Ln2Low = 1.42860682030941723212e-6f;

        /// <summary>
        /// e^x for x ≤ 0 (softmax always subtracts the maximum first), within 2 ulp of the exact value; −∞ and anything
        /// below −104 give 0, NaN gives NaN. Range reduction x = n·ln 2 + r with |r| ≤ ln 2 / 2, a degree-7 Taylor
        /// polynomial for e^r (truncation error below 6e-9 relative), then the exponent n is put in by bit assembly.
        /// </summary>
        public static float ExpNonPositive(float x)
        {
            if (float.IsNaN(x)) return x;
            if (x < -104.0f) return 0.0f;
            var n = (int)(x * Log2E - 0.5f);
            var r = x - n * Ln2High - n * Ln2Low;
            var p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f + r * (1.0f / 120.0f
                + r * (1.0f / 720.0f + r * (1.0f / 5040.0f)))))));
            // 2^n as a float needs n ≥ −126; below that, scale in two steps (the second one rounds to a subnormal).
            if (n >= -126) return p * Interop.IntAsFloat((uint)(n + 127) << 23);
            return p * Interop.IntAsFloat((uint)(n + 127 + 64) << 23) * Interop.IntAsFloat((uint)(127 - 64) << 23);
        }
    }
}
