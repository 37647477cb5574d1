using System;
using System.IO;

namespace MoeLayers.Samples.Tests
{
    /// <summary>A fresh folder under the system temp path, deleted with everything in it on dispose.</summary>
    internal sealed class TempFolder : IDisposable
    {
        public TempFolder()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "moelayers-tests-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public string[] FileNames() =>
            Array.ConvertAll(Directory.GetFiles(Path), f => System.IO.Path.GetFileName(f)!);

        public void Dispose()
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
    }
}
