using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using FluentAssertions;
using Xunit.Abstractions;

namespace MoeLayers.Package.Tests
{
    /// <summary>
    /// The consumer's first hour, for real: pack MoeLayers to a local folder feed, create a console project outside the
    /// solution that references it plus TorchSharp-cpu, train a small model with an MoE layer and check the loss falls.
    /// </summary>
    public sealed class ConsumerPackageTests : IDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly string _work = Path.Combine(Path.GetTempPath(), "moelayers-consumer-" + Guid.NewGuid().ToString("N"));
        private readonly string _version = "0.0.0-consumer." + DateTime.UtcNow.ToString("yyyyMMddHHmmss");

        /// <summary>The packages that reach into the core and must depend on exactly the core version they were built with.</summary>
        private static readonly string[] PinnedPackages = { "MoeLayers.Cuda", "MoeLayers.Distributed", "MoeLayers.Interop" };

        public ConsumerPackageTests(ITestOutputHelper output)
        {
            _output = output;
        }

        [Fact]
        public void PackedLibraryTrainsAModelInAFreshConsoleProject()
        {
            var repo = RepositoryRoot();
            var feed = Path.Combine(_work, "feed");
            var app = Path.Combine(_work, "app");
            Directory.CreateDirectory(app);

            // The packs build into their own artifacts folder: rebuilding the library in the repository's bin/obj while other
            // test assemblies run would rewrite the MoeLayers.dll their copy-local hard links share (an MPI rank starting
            // then failed to load it).
            var isolated = new[] { "-p:UseArtifactsOutput=true", $"-p:ArtifactsPath={Path.Combine(_work, "artifacts")}" };
            Run(repo, new[] { "pack", "src/MoeLayers/MoeLayers.csproj", "-c", "Release", "-o", feed, $"-p:Version={_version}" }.Concat(isolated).ToArray());
            var packages = Directory.GetFiles(feed).Select(Path.GetFileName).ToArray();
            packages.Should().Contain(new[] { $"MoeLayers.{_version}.nupkg", $"MoeLayers.{_version}.snupkg" });
            foreach (var pinned in PinnedPackages)
            {
                Run(repo, new[] { "pack", $"src/{pinned}/{pinned}.csproj", "-c", "Release", "-o", feed, $"-p:Version={_version}" }.Concat(isolated).ToArray());
                CoreDependencies(Path.Combine(feed, $"{pinned}.{_version}.nupkg"), pinned).Should().NotBeEmpty()
                    .And.OnlyContain(range => range == $"[{_version}]",
                        "{0} reaches into the core (internals or its state-dict keys), so every target framework's group pins the exact core version", pinned);
            }

            var templates = Path.Combine(AppContext.BaseDirectory, "Consumer");
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"),
                File.ReadAllText(Path.Combine(templates, "Consumer.csproj.template")).Replace("$VERSION$", _version));
            File.WriteAllText(Path.Combine(app, "nuget.config"),
                File.ReadAllText(Path.Combine(templates, "nuget.config.template")).Replace("$FEED$", feed));
            File.Copy(Path.Combine(templates, "Program.cs"), Path.Combine(app, "Program.cs"));

            var output = Run(app, "run", "-c", "Release");
            output.Should().Contain("CONSUMER OK");
        }

        /// <summary>The version range of each MoeLayers dependency in the package's nuspec (one per target-framework group).</summary>
        private static string[] CoreDependencies(string nupkg, string id)
        {
            using var package = System.IO.Compression.ZipFile.OpenRead(nupkg);
            using var stream = package.GetEntry(id + ".nuspec")!.Open();
            var nuspec = System.Xml.Linq.XDocument.Load(stream);
            return nuspec.Descendants().Where(e => e.Name.LocalName == "dependency" && (string?)e.Attribute("id") == "MoeLayers")
                .Select(e => (string)e.Attribute("version")!)
                .ToArray();
        }

        public void Dispose()
        {
            TryDelete(_work);
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            TryDelete(Path.Combine(cache, "moelayers", _version));
        }

        private string Run(string workingDirectory, params string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            // The test host runs inside MSBuild/VSTest: its MSBuild variables would leak into the child build.
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
                                                                  || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                start.Environment.Remove(key);
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit((int)TimeSpan.FromMinutes(10).TotalMilliseconds).Should().BeTrue("dotnet {0} must finish", arguments[0]);
            var text = stdout.Result + stderr.Result;
            _output.WriteLine($"$ dotnet {string.Join(' ', arguments)}\n{text}");
            process.ExitCode.Should().Be(0, "dotnet {0} failed:\n{1}", arguments[0], text);
            return text;
        }

        private static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MoeLayers.sln"))) return dir.FullName;
            }
            throw new InvalidOperationException("MoeLayers.sln not found above " + AppContext.BaseDirectory);
        }

        private static void TryDelete(string path)
        {
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
