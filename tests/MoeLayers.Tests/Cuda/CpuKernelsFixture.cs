using System;
using MoeLayers.Cuda;

namespace MoeLayers.Tests.Cuda
{
    /// <summary>
    /// The kernels on ILGPU's CPU accelerator with 32-thread blocks, so that even small test problems span several
    /// blocks and exercise the cross-block scan. Shared by every class in the collection (the accelerator is costly).
    /// </summary>
    public sealed class CpuKernelsFixture : IDisposable
    {
        private readonly IlgpuCpuLauncher _launcher = new(maxThreadsPerBlock: 32);

        internal FusedKernels Kernels => new(_launcher, new LaunchGeometry(32));

        public void Dispose() => _launcher.Dispose();
    }

    [CollectionDefinition(Name)]
    public sealed class CpuKernelsCollection : ICollectionFixture<CpuKernelsFixture>
    {
        public const string Name = "ILGPU CPU accelerator";
    }
}
