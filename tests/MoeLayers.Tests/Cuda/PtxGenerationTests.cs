using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Cuda;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>PTX generation needs no GPU: every kernel compiles, and its entry matches what the CUDA launcher packs.</summary>
    public class PtxGenerationTests
    {
        [Fact]
        public void EveryKernelCompilesForHopperWithTheLaunchersParameterLayout()
        {
            var target = CudaTarget.ForDevice(9, 0);
            foreach (var kernel in KernelCatalog.All)
            {
                var module = PtxCompiler.Compile(kernel, target);
                module.Ptx.Should().Contain(".target sm_80\n", "ILGPU's newest target; the driver compiles it for sm_90").And.Contain(".version 7.0\n");
                var signature = PtxEntrySignature.Parse(module.Ptx);
                signature.Name.Should().Be(module.EntryName);
                signature.Mismatch(kernel).Should().BeNull(kernel.Name);
                module.Ptx.Should().NotContain("call", $"{kernel.Name} must not depend on libdevice or printf");
            }
        }

        [Fact]
        public void PackedRowKernelsMoveSixteenBytesPerLoadAndStore()
        {
            var target = CudaTarget.ForDevice(9, 0);
            foreach (var set in new[] { KernelCatalog.Float32Packed, KernelCatalog.BFloat16Packed, KernelCatalog.Float16Packed })
            {
                foreach (var kernel in new[] { set.Gather, set.Combine, set.ScatterScaled, set.PairDot })
                {
                    var ptx = PtxCompiler.Compile(kernel, target).Ptx;
                    ptx.Should().MatchRegex(@"ld\.global\.v4\.(f32|b32)", $"{kernel.Name} reads rows in 16-byte packets");
                    if (kernel != set.PairDot) ptx.Should().MatchRegex(@"st\.global\.v4\.(f32|b32)", $"{kernel.Name} writes rows in 16-byte packets");
                }
            }
            PtxCompiler.Compile(KernelCatalog.BFloat16Rows.Combine, target).Ptx.Should().NotContain(".v4.", "single-element kernels take any alignment");
        }

        [Theory]
        [InlineData(7, 0, 70)]
        [InlineData(7, 5, 75)]
        [InlineData(8, 0, 80)]
        [InlineData(8, 6, 80)]
        [InlineData(9, 0, 80)]
        [InlineData(10, 0, 80)]
        [InlineData(12, 0, 80)]
        [InlineData(13, 0, 80)]
        public void EachTargetGeneratesLoadablePtx(int major, int minor, int sm)
        {
            var target = CudaTarget.ForDevice(major, minor);
            var module = PtxCompiler.Compile(KernelCatalog.RankAndScatter, target);
            module.Ptx.Should().Contain($".target sm_{sm}\n");
            PtxEntrySignature.Parse(module.Ptx).Mismatch(KernelCatalog.RankAndScatter).Should().BeNull();
        }

        [Fact]
        public void GpusOlderThanVoltaAreRefused()
        {
            var act = () => CudaTarget.ForDevice(6, 1);
            act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*6.1*7.0*");
        }

        [Fact]
        public void SignatureParserReadsViewsAndScalarsAndReportsDifferences()
        {
            const string ptx = ".version 7.8\n.target sm_90\n.visible .entry Kernel_X(\n\t.param .align 8 .b8 _a_1[16],\n\t.param .b32 _n_2\n)\n{ ret; }";
            var signature = PtxEntrySignature.Parse(ptx);
            signature.Name.Should().Be("Kernel_X");
            signature.Parameters.Should().Equal((16, 8), (4, 4));

            var gather = KernelCatalog.Float32Rows.Gather;
            signature.Mismatch(gather).Should().Contain("has 2 parameters, the launcher packs 7");
            var act = () => PtxEntrySignature.Parse(ptx + ptx);
            act.Should().Throw<FormatException>().WithMessage("*exactly one .entry*found 2*");
        }

        [Fact]
        public void CatalogCoversEveryKernelOnce()
        {
            KernelCatalog.All.Select(k => k.Name).Should().OnlyHaveUniqueItems().And.HaveCount(28, "6 routing and permutation kernels; gathers of float, ushort, Float4 and Half8; 3 more row kernels for each of 6 (dtype, packet) pairs");
            KernelCatalog.Rows(TorchSharp.torch.ScalarType.Float64).Should().BeNull();
        }
    }
}
