using FluentAssertions;
using MoeLayers.Cuda.GpuHarness;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>On a GPU: the fused dispatch against the TorchSharp dispatch on the GPU and on the CPU, outputs and gradients.</summary>
    public class GpuDispatchTests
    {
        [GpuFact]
        public void FusedDispatchMatchesTheTorchSharpDispatchOnGpuAndCpu()
        {
            foreach (var result in GpuChecks.Run(CUDA)) result.Passed.Should().BeTrue(result.ToString());
        }
    }
}
