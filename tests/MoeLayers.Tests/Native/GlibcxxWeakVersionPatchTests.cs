using System;
using System.IO;
using System.Text;
using FluentAssertions;

namespace MoeLayers.Tests.Native
{
    public class GlibcxxWeakVersionPatchTests : IDisposable
    {
        private readonly string _path = Path.Combine(Path.GetTempPath(), $"fake-elf-{Guid.NewGuid():N}.so");

        public void Dispose() => File.Delete(_path);

        [Fact]
        public void MarksOnlyTheNamedVersionWeakAndIsIdempotent()
        {
            File.WriteAllBytes(_path, FakeElf());
            GlibcxxWeakVersionPatch.HasStrictNeed(_path, "GLIBCXX_3.4.32").Should().BeTrue();
            GlibcxxWeakVersionPatch.Apply(_path).Should().Be(GlibcxxPatchOutcome.Patched);
            GlibcxxWeakVersionPatch.HasStrictNeed(_path, "GLIBCXX_3.4.32").Should().BeFalse();
            GlibcxxWeakVersionPatch.HasStrictNeed(_path, "GLIBCXX_3.4.30").Should().BeTrue();
            GlibcxxWeakVersionPatch.Apply(_path).Should().Be(GlibcxxPatchOutcome.AlreadyWeak);

            var before = FakeElf();
            var after = File.ReadAllBytes(_path);
            var differing = 0;
            for (var i = 0; i < before.Length; i++) if (before[i] != after[i]) differing++;
            differing.Should().Be(1, "only the flags byte of one vernaux entry changes");
            Directory.GetFiles(Path.GetDirectoryName(_path)!, Path.GetFileName(_path) + ".moelayers-*").Should().BeEmpty();
        }

        [Fact]
        public void ReportsNotNeededWhenTheVersionIsAbsent()
        {
            File.WriteAllBytes(_path, FakeElf());
            GlibcxxWeakVersionPatch.Apply(_path, "GLIBCXX_9.9.9").Should().Be(GlibcxxPatchOutcome.NotNeeded);
        }

        [Fact]
        public void RejectsFilesThatAreNotElf()
        {
            File.WriteAllBytes(_path, new byte[100]);
            var act = () => GlibcxxWeakVersionPatch.Apply(_path);
            act.Should().Throw<InvalidDataException>().WithMessage("Not an ELF file.");
        }

        [Fact]
        public void TheTestHostsOwnTorchSharpLibraryHasNoStrictNeedWhereTheSystemLacksTheVersion()
        {
            if (!OperatingSystem.IsLinux()) return;
            var native = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            File.Exists(native).Should().BeTrue();
            if (GlibcxxWeakVersionPatch.IsNeededOnThisMachine(out _))
                GlibcxxWeakVersionPatch.HasStrictNeed(native, GlibcxxWeakVersionPatch.Version).Should().BeFalse();
        }

        [Fact]
        public void DiagnosisNamesAMissingBackendPackage()
        {
            var empty = Directory.CreateTempSubdirectory("moe-app-");
            try
            {
                TorchSharpNative.Diagnose(null, empty.FullName).Should()
                    .Contain("No libLibTorchSharp native library was found").And.Contain("TorchSharp-cpu");
            }
            finally
            {
                empty.Delete(true);
            }
        }

        [Fact]
        public void DiagnosisExplainsAnUnpatchedLibraryWhereTheSystemLacksTheVersion()
        {
            if (!OperatingSystem.IsLinux() || !GlibcxxWeakVersionPatch.IsNeededOnThisMachine(out _)) return;
            var app = Directory.CreateTempSubdirectory("moe-app-");
            try
            {
                File.WriteAllBytes(Path.Combine(app.FullName, "libLibTorchSharp.so"), FakeElf());
                TorchSharpNative.Diagnose(null, app.FullName).Should()
                    .Contain("requires GLIBCXX_3.4.32").And.Contain("MoeLayersPatchTorchSharpNative").And.Contain("GCC 13");
            }
            finally
            {
                app.Delete(true);
            }
        }

        /// <summary>A minimal ELF64 with .dynstr and a .gnu.version_r needing GLIBCXX_3.4.30 and GLIBCXX_3.4.32.</summary>
        private static byte[] FakeElf()
        {
            var strtab = Encoding.ASCII.GetBytes("\0libstdc++.so.6\0GLIBCXX_3.4.30\0GLIBCXX_3.4.32\0");
            var name30 = 16;
            var name32 = 31;
            var verneed = new byte[16 + 16 + 16];
            Put16(verneed, 0, 1);           // vn_version
            Put16(verneed, 2, 2);           // vn_cnt
            Put32(verneed, 4, 1);           // vn_file
            Put32(verneed, 8, 16);          // vn_aux
            Put32(verneed, 16 + 8, (uint)name30);
            Put32(verneed, 16 + 12, 16);    // vna_next
            Put32(verneed, 32 + 8, (uint)name32);

            const int header = 64;
            var strOffset = header;
            var verOffset = strOffset + strtab.Length;
            var shOffset = verOffset + verneed.Length;
            var file = new byte[shOffset + 3 * 64];
            file[0] = 0x7f; file[1] = (byte)'E'; file[2] = (byte)'L'; file[3] = (byte)'F'; file[4] = 2; file[5] = 1;
            Put64(file, 0x28, (ulong)shOffset);
            Put16(file, 0x3A, 64);
            Put16(file, 0x3C, 3);
            Buffer.BlockCopy(strtab, 0, file, strOffset, strtab.Length);
            Buffer.BlockCopy(verneed, 0, file, verOffset, verneed.Length);
            var s1 = shOffset + 64;
            Put32(file, s1 + 4, 3);
            Put64(file, s1 + 0x18, (ulong)strOffset);
            Put64(file, s1 + 0x20, (ulong)strtab.Length);
            var s2 = shOffset + 128;
            Put32(file, s2 + 4, 0x6ffffffe);
            Put64(file, s2 + 0x18, (ulong)verOffset);
            Put64(file, s2 + 0x20, (ulong)verneed.Length);
            Put32(file, s2 + 0x28, 1);
            Put32(file, s2 + 0x2C, 1);
            return file;
        }

        private static void Put16(byte[] b, int o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }

        private static void Put32(byte[] b, int o, uint v) { for (var i = 0; i < 4; i++) b[o + i] = (byte)(v >> (8 * i)); }

        private static void Put64(byte[] b, int o, ulong v) { for (var i = 0; i < 8; i++) b[o + i] = (byte)(v >> (8 * i)); }
    }
}
