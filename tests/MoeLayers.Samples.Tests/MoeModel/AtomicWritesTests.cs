using System.IO;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>Fine-tuning outputs are written whole or not at all, and never over a folder that is not one of ours.</summary>
    public sealed class AtomicWritesTests
    {
        [Fact]
        public void AFolderIsReplacedWholeAndAFailedFillLeavesTheOldOne()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "run");
            AtomicWrites.ReplaceFolder(folder, "marker.json", "test folder", t =>
            {
                AtomicWrites.NewFile(Path.Combine(t, "marker.json"), s => s.WriteByte(1));
                AtomicWrites.NewFile(Path.Combine(t, "old.bin"), s => s.WriteByte(2));
            });
            var fail = () => AtomicWrites.ReplaceFolder(folder, "marker.json", "test folder", t =>
            {
                AtomicWrites.NewFile(Path.Combine(t, "marker.json"), s => s.WriteByte(3));
                throw new IOException("disk full");
            });
            fail.Should().Throw<IOException>().WithMessage("disk full");
            File.ReadAllBytes(Path.Combine(folder, "marker.json")).Should().Equal(1);
            Directory.GetFileSystemEntries(temp.Path).Should().ContainSingle("the sibling the failed write used is gone");

            AtomicWrites.ReplaceFolder(folder, "marker.json", "test folder", t => AtomicWrites.NewFile(Path.Combine(t, "marker.json"), s => s.WriteByte(4)));
            Directory.GetFiles(folder).Should().ContainSingle().Which.Should().EndWith("marker.json", "the folder is replaced as a whole: old.bin is gone");
        }

        [Fact]
        public void AFolderThatIsNotOneOfOursIsRefusedAndKept()
        {
            using var temp = new TempFolder();
            var folder = Path.Combine(temp.Path, "documents");
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "thesis.txt"), "mine");
            var write = () => AtomicWrites.ReplaceFolder(folder, "adapter_config.json", "adapter folder", _ => { });
            write.Should().Throw<IOException>().WithMessage("*is not an adapter folder (no adapter_config.json)*whole folder would be replaced*");
            File.ReadAllText(Path.Combine(folder, "thesis.txt")).Should().Be("mine");
            var noParent = () => AtomicWrites.ReplaceFolder(Path.Combine(temp.Path, "missing", "run"), "m", "checkpoint", _ => { });
            noParent.Should().Throw<DirectoryNotFoundException>().WithMessage("*parent*does not exist*");
        }

        [Fact]
        public void AFileIsReplacedWithoutLeavingItsTemporary()
        {
            using var temp = new TempFolder();
            var path = Path.Combine(temp.Path, "summary.json");
            AtomicWrites.ReplaceFile(path, new byte[] { 1, 2 });
            AtomicWrites.ReplaceFile(path, new byte[] { 3 });
            File.ReadAllBytes(path).Should().Equal(3);
            Directory.GetFiles(temp.Path).Should().ContainSingle();
        }
    }
}
