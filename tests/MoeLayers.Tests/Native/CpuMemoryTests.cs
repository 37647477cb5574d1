using System;
using System.IO;
using System.Runtime.InteropServices;
using FluentAssertions;

namespace MoeLayers.Tests.Native
{
    public class CpuMemoryTests
    {
        [Fact]
        public void ThresholdsBelowGlibcsDefaultAreRefusedNamingTheArgument()
        {
            var act = () => CpuMemory.ReuseFreedMemory(64 * 1024);
            act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "thresholdBytes" && e.Message.Contains("131072"));
        }

        [Fact]
        public void OnGlibcTheThresholdsAreSet()
        {
            // Debian's glibc here and in CI: mallopt takes both thresholds. Elsewhere the call reports false and changes nothing.
            var applied = CpuMemory.ReuseFreedMemory();
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && File.Exists("/lib/x86_64-linux-gnu/libc.so.6")) applied.Should().BeTrue();
        }
    }
}
