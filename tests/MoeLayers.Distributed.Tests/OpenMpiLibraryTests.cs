using System;
using System.IO;
using System.Runtime.InteropServices;
using FluentAssertions;

namespace MoeLayers.Distributed.Tests
{
    public sealed class OpenMpiLibraryTests
    {
        private static bool NothingLoads(string path, out IntPtr handle)
        {
            handle = IntPtr.Zero;
            return false;
        }

        [Fact]
        public void AMissingLibrarySaysWhatToInstallAndWhichVariablePointsElsewhere()
        {
            var act = () => OpenMpiLibrary.Open(null, null, NothingLoads);
            var e = act.Should().Throw<MpiNotAvailableException>().Which;
            e.Message.Should().Contain("could not be loaded from the usual names and folders")
                .And.Contain("libmpi.so.40 (not found or not loadable)")
                .And.Contain("/usr/lib/x86_64-linux-gnu/libmpi.so.40")
                .And.Contain("apt-get update && apt-get install -y openmpi-bin libopenmpi-dev")
                .And.Contain("build/install-openmpi.sh")
                .And.Contain("MOELAYERS_MPI_LIBRARY");
        }

        [Fact]
        public void AnExplicitPathOrTheVariableIsTheOnlyCandidate()
        {
            OpenMpiLibrary.Candidates("/opt/mpi/libmpi.so.40", "/ignored").Should().Equal("/opt/mpi/libmpi.so.40");
            OpenMpiLibrary.Candidates(null, "/from/variable/libmpi.so.40").Should().Equal("/from/variable/libmpi.so.40");
            OpenMpiLibrary.Candidates(null, null).Should().StartWith(new[] { "libmpi.so.40" });
            var act = () => OpenMpiLibrary.Open(null, "/nowhere/libmpi.so.40", NothingLoads);
            act.Should().Throw<MpiNotAvailableException>().WithMessage("*from the path in MOELAYERS_MPI_LIBRARY; tried /nowhere/libmpi.so.40*");
        }

        [Fact]
        public void ALibraryThatIsNotMpiIsRefusedByName()
        {
            // libz is on every Debian system; it loads but has neither ompi_mpi_comm_world nor MPI_Init.
            var libz = new[] { "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1" };
            var path = Array.Find(libz, File.Exists);
            path.Should().NotBeNull("the test needs libz.so.1");
            var act = () => OpenMpiLibrary.Open(path, null, NativeLibrary.TryLoad);
            act.Should().Throw<MpiNotAvailableException>().WithMessage($"{path} is not an MPI library (it has no MPI_Init)*");
        }

        [Fact]
        public void TheInstalledOpenMpiLoadsAndExportsEverythingTheBindingUses()
        {
            // Open MPI is a test dependency (installed by build/install-openmpi.sh): this fails, not skips, without it.
            var library = OpenMpiLibrary.Load(null);
            library.Version().Should().StartWith("Open MPI v");
            library.DescribeError(1).Should().Be("MPI error code 1", "MPI_Error_string may not be called before MPI_Init (Open MPI aborts)");
        }

        [Fact]
        public void TheTimeoutComesFromTheOptionsThenTheVariableThenTheDefault()
        {
            new MpiCommunicatorOptions { Timeout = TimeSpan.FromSeconds(3) }.ResolveTimeout("99").Should().Be(TimeSpan.FromSeconds(3));
            new MpiCommunicatorOptions().ResolveTimeout("7.5").Should().Be(TimeSpan.FromSeconds(7.5));
            new MpiCommunicatorOptions().ResolveTimeout(null).Should().Be(MpiCommunicatorOptions.DefaultTimeout);
            MpiCommunicatorOptions.DefaultTimeout.Should().Be(TimeSpan.FromMinutes(10));
            var bad = () => new MpiCommunicatorOptions().ResolveTimeout("soon");
            bad.Should().Throw<ArgumentException>().WithMessage("MOELAYERS_MPI_TIMEOUT_SECONDS must be a positive number of seconds; got 'soon'.");
            var negative = () => new MpiCommunicatorOptions { Timeout = TimeSpan.Zero }.ResolveTimeout(null);
            negative.Should().Throw<ArgumentOutOfRangeException>();
        }

        [Fact]
        public void WithoutMpirunTheMpiTestsFailWithTheInstallCommand()
        {
            var act = () => MpiLauncher.Mpirun("/nonexistent-folder");
            act.Should().Throw<InvalidOperationException>()
                .WithMessage("mpirun was not found on PATH, so the MPI tests cannot run (they fail rather than skip).*apt-get install -y openmpi-bin libopenmpi-dev*");
        }
    }
}
