using System;
using System.Runtime.InteropServices;
using FluentAssertions;
using MoeLayers.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>How a layer decides between the fused and the TorchSharp dispatch, and what it says when it cannot comply.</summary>
    public class CudaDispatchSelectionTests
    {
        private static readonly Device Gpu = new(DeviceType.CUDA, 0);
        private static readonly IExpertDispatcher Fallback = new SortedDispatcher();

        [Theory]
        [InlineData(CudaDispatchMode.Auto, DispatchStrategy.Auto, true)]
        [InlineData(CudaDispatchMode.Auto, DispatchStrategy.Grouped, true)]
        [InlineData(CudaDispatchMode.Always, DispatchStrategy.Grouped, true)]
        [InlineData(CudaDispatchMode.Auto, DispatchStrategy.Padded, true)]
        [InlineData(CudaDispatchMode.Auto, DispatchStrategy.Reference, false)]
        [InlineData(CudaDispatchMode.Never, DispatchStrategy.Auto, false)]
        public void CudaInputsUseTheFusedDispatchWhenModeAndStrategyAllow(CudaDispatchMode mode, DispatchStrategy strategy, bool fused)
        {
            var accelerator = new FakeAccelerator(null);
            var chosen = DispatchAccelerators.Choose(mode, strategy, Gpu, a => a.Unavailable(null!, 8, 2), Fallback, () => accelerator);
            chosen.Dispatcher.Should().BeSameAs(fused ? accelerator.Dispatcher(strategy) : Fallback);
            chosen.Accelerator.Should().BeSameAs(fused ? accelerator : null, "the fused routing may only come from the accelerator that dispatches");
        }

        [Fact]
        public void AutoFallsBackQuietlyAndAlwaysExplains()
        {
            var broken = new FakeAccelerator("libcuda.so.1 could not be loaded.");
            DispatchAccelerators.Choose(CudaDispatchMode.Auto, DispatchStrategy.Auto, Gpu, a => a.Unavailable(null!, 8, 2), Fallback, () => broken)
                .Dispatcher.Should().BeSameAs(Fallback);
            DispatchAccelerators.Choose(CudaDispatchMode.Auto, DispatchStrategy.Auto, Gpu, a => a.Unavailable(null!, 8, 2), Fallback, () => null)
                .Dispatcher.Should().BeSameAs(Fallback);
            DispatchAccelerators.Choose(CudaDispatchMode.Auto, DispatchStrategy.Auto, CPU, a => a.Unavailable(null!, 8, 2), Fallback, () => broken)
                .Dispatcher.Should().BeSameAs(Fallback);

            var missingDriver = () => DispatchAccelerators.Choose(CudaDispatchMode.Always, DispatchStrategy.Auto, Gpu, a => a.Unavailable(null!, 8, 2), Fallback, () => broken);
            missingDriver.Should().Throw<InvalidOperationException>().WithMessage("*cannot run on cuda:0: libcuda.so.1 could not be loaded.");
            var missingPackage = () => DispatchAccelerators.Choose(CudaDispatchMode.Always, DispatchStrategy.Auto, Gpu, a => null, Fallback, () => null);
            missingPackage.Should().Throw<InvalidOperationException>().WithMessage("*MoeLayers.Cuda package is not loaded*");
            var cpuInput = () => DispatchAccelerators.Choose(CudaDispatchMode.Always, DispatchStrategy.Auto, CPU, a => null, Fallback, () => broken);
            cpuInput.Should().Throw<InvalidOperationException>().WithMessage("*input is on cpu*CUDA tensors only*");
        }

        [Fact]
        public void ALayerForcedOntoCudaRefusesCpuInputsWithTheReason()
        {
            var layer = Moe.Create(new MoeLayerOptions { InputDim = 4, HiddenDim = 8, NumExperts = 2, TopK = 1, UseCudaDispatch = CudaDispatchMode.Always });
            var act = () => layer.call(randn(3, 4));
            act.Should().Throw<InvalidOperationException>().WithMessage("UseCudaDispatch is Always but the input is on cpu*");
        }

        [Fact]
        public void OptionsRejectAlwaysWithAStrategyTheFusedPathDoesNotRun()
        {
            var failures = MoeLayerOptionsValidator.Failures(new MoeLayerOptions
            {
                InputDim = 4, HiddenDim = 8, UseCudaDispatch = CudaDispatchMode.Always, Dispatch = DispatchStrategy.Reference,
            });
            failures.Should().ContainSingle().Which.Should().Be(
                "MoeLayerOptions.UseCudaDispatch = Always runs the fused dispatch, so Dispatch cannot be Reference (the plain loop kept as the tests' oracle).");
            MoeLayerOptionsValidator.Failures(new MoeLayerOptions
            {
                InputDim = 4, HiddenDim = 8, UseCudaDispatch = CudaDispatchMode.Always, Dispatch = DispatchStrategy.Padded,
            }).Should().BeEmpty();
            MoeLayerOptionsValidator.Failures(new MoeLayerOptions { InputDim = 4, HiddenDim = 8, UseCudaDispatch = (CudaDispatchMode)7 })
                .Should().ContainSingle().Which.Should().Contain("UseCudaDispatch must be one of Auto, Never, Always; got 7");
        }

        [Fact]
        public void ThePackageRegistersItselfWithTheCore()
        {
            DispatchAccelerators.Cuda.Should().BeOfType<CudaDispatchAccelerator>()
                .Which.Name.Should().Be("MoeLayers.Cuda");
        }

        [Fact]
        public void TheAcceleratorNamesWhatKeepsAnInputOffTheGpu()
        {
            var accelerator = new CudaDispatchAccelerator(null!);
            accelerator.Unavailable(randn(4, 3), 8, 2).Should().Be("the input is on cpu, not on a CUDA device.");
            accelerator.TryRouteTopK(randn(4, 8), 2, TopKOrder.SoftmaxThenTopK, true).Should().BeNull("CPU logits keep the TorchSharp selection");
        }

        [Fact]
        public void WithoutADriverTheReasonNamesTheLibrary()
        {
            if (NativeLibrary.TryLoad(CudaDriverApi.LibraryName, out var handle))
            {
                NativeLibrary.Free(handle);
                return; // a driver is installed: the GPU tests cover this machine
            }
            CudaDispatchInfo.IsAvailable().Should().BeFalse();
            CudaDispatchInfo.WhyUnavailable().Should().Contain(CudaDriverApi.LibraryName).And.Contain("Install the NVIDIA driver");
            var act = () => CudaDevices.Get(0);
            act.Should().Throw<CudaUnavailableException>().WithMessage($"*{CudaDriverApi.LibraryName}*");
        }

        private sealed class FakeAccelerator : IDispatchAccelerator
        {
            private readonly string? _missing;

            public FakeAccelerator(string? missing)
            {
                _missing = missing;
            }

            public string Name => "fake";

            private readonly IExpertDispatcher[] _dispatchers = { new ReferenceDispatcher(), new ReferenceDispatcher(), new ReferenceDispatcher() };

            public IExpertDispatcher Dispatcher(DispatchStrategy strategy) => _dispatchers[(int)strategy];

            public string? Unavailable(Tensor input, int numExperts, int topK) => _missing;

            public AcceleratedRouting? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize) => null;
        }
    }
}
