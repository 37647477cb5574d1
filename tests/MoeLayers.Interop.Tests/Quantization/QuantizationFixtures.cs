using System;
using System.IO;

namespace MoeLayers.Interop.Tests.Quantization
{
    /// <summary>
    /// The committed fixtures of scripts/interop/quantization_reference.py, found in the source tree (tests/fixtures/
    /// quantization) by walking up from the test assembly's folder.
    /// </summary>
    internal static class QuantizationFixtures
    {
        private static readonly Lazy<string> Root = new(() =>
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "tests", "fixtures", "quantization");
                if (Directory.Exists(candidate)) return candidate;
            }

            throw new DirectoryNotFoundException(
                $"tests/fixtures/quantization was not found above '{AppContext.BaseDirectory}'; run the tests from a checkout of the repository.");
        });

        public static string Float8Codes => Path.Combine(Root.Value, "float8_codes.safetensors");

        public static string Fp8Block => Path.Combine(Root.Value, "fp8_block.safetensors");

        public static string Mxfp4 => Path.Combine(Root.Value, "mxfp4.safetensors");
    }
}
