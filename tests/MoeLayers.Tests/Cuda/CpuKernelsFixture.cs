using System;
using MoeLayers.Cuda;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// The kernels on ILGPU's CPU accelerator with 32-thread blocks, so that even small test problems span several
    /// blocks and exercise the cross-block scan, and with 128-thread blocks (four 32-pair rank segments, several rows per
    /// block). Shared by every class in the collection (the accelerators are costly).
    /// </summary>
    public sealed class CpuKernelsFixture : IDisposable
    {
        private readonly IlgpuCpuLauncher _launcher = new(maxThreadsPerBlock: 32);
        private readonly IlgpuCpuLauncher _wideLauncher = new(maxThreadsPerBlock: 128);

        internal FusedKernels Kernels => new(_launcher, new LaunchGeometry(32));

        internal FusedKernels WideKernels => new(_wideLauncher, new LaunchGeometry(128));

        /// <summary>The same kernels moving one element per access, never 16-byte packets.</summary>
        internal FusedKernels SingleElementKernels => new(_wideLauncher, new LaunchGeometry(128), packRows: false);

        public void Dispose()
        {
            _launcher.Dispose();
            _wideLauncher.Dispose();
        }
    }

    [CollectionDefinition(Name)]
    public sealed class CpuKernelsCollection : ICollectionFixture<CpuKernelsFixture>
    {
        public const string Name = "ILGPU CPU accelerator";
    }
}
