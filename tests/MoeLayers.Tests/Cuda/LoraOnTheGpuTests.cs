using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// An adapted layer (<see cref="MoeLayerOptions.Lora"/>) on the GPU: the fused dispatch with cuBLAS's grouped GEMM for
    /// the base and the adapters (rank 8: aligned rows; rank 3 in bfloat16: rows cuBLAS does not take, per-expert products)
    /// against the same layer on the CPU, outputs and adapter gradients. Skipped without a usable GPU.
    /// </summary>
    public class LoraOnTheGpuTests
    {
        [GpuFact]
        public void AdaptedLayersOnTheGpuMatchTheCpuInOutputsAndAdapterGradients()
        {
            foreach (var (rank, dtype, tolerance) in new[] { (8, ScalarType.Float32, 1e-4), (3, ScalarType.Float32, 1e-4), (8, ScalarType.BFloat16, 5e-2), (3, ScalarType.BFloat16, 5e-2) })
            {
                var options = new MoeLayerOptions
                {
                    InputDim = 64, HiddenDim = 128, NumExperts = 8, TopK = 2, Activation = ExpertActivation.SwiGlu, SharedExperts = 1,
                    CapacityFactor = 1.0, Lora = new LoraOptions { Rank = rank, Alpha = 16 },
                };
                manual_seed(rank);
                var cpu = new MoeLayer(options);
                using (no_grad())
                {
                    foreach (var (_, p) in cpu.named_parameters().Where(p => p.name.Contains(".lora.b_", StringComparison.Ordinal))) p.copy_(randn(p.shape) * 0.1);
                }
                var gpu = new MoeLayer(options);
                gpu.load_state_dict(cpu.state_dict());
                gpu.to(CUDA).to(dtype);
                cpu.train();
                gpu.train();
                // Rounded to bfloat16 for both, so the float32 router sees the same tokens and picks the same experts.
                var x = randn(256, 64).to(ScalarType.BFloat16).to(ScalarType.Float32);
                var upstream = randn(256, 64);
                var expectedOutput = cpu.Run(x).Output;
                var output = gpu.Run(x.to(CUDA).to(dtype)).Output.to(ScalarType.Float32);
                TensorAssert.Close(output.cpu(), expectedOutput, tolerance * expectedOutput.abs().max().item<float>(), $"rank {rank} {dtype}: output");
                (expectedOutput * upstream).sum().backward();
                (output * upstream.to(CUDA)).sum().backward();
                var expected = cpu.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.grad!);
                foreach (var (name, p) in gpu.named_parameters().Where(p => p.parameter.requires_grad))
                {
                    p.dtype.Should().Be(ScalarType.Float32, name);
                    var scale = Math.Max(1.0, expected[name].abs().max().item<float>());
                    TensorAssert.Close(p.grad!.cpu(), expected[name], tolerance * scale, $"rank {rank} {dtype}: {name}");
                }
            }
        }
    }
}
