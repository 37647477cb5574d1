using FluentAssertions;
using MoeLayers.Cuda.GpuHarness;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// On a GPU, the harness's three check stages (skipped elsewhere, with the reason): TorchSharp alone, the fused
    /// kernels, and cuBLAS's grouped GEMM with a whole model in bfloat16.
    /// </summary>
    public class GpuDispatchTests
    {
        [GpuFact]
        public void TorchSharpOnTheGpuMatchesTheCpu() => AllPass(GpuChecks.TorchSharpOnly(CUDA));

        [GpuFact]
        public void FusedDispatchMatchesTheTorchSharpDispatchOnGpuAndCpu() => AllPass(GpuChecks.Fused(CUDA));

        [GpuFact]
        public void GroupedGemmMatchesPerExpertProductsInEveryDType() => AllPass(GpuChecks.Grouped(CUDA));

        private static void AllPass(System.Collections.Generic.IEnumerable<GpuCheckResult> results)
        {
            foreach (var result in results) result.Passed.Should().BeTrue(result.ToString());
        }
    }
}
