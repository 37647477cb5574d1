using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Spectre.Console;

namespace MoeLayers.Samples.Mnist.Data
{
    /// <summary>
    /// Fetches missing MNIST files from public mirrors. Each file is streamed to a temporary file beside its final name,
    /// its md5 checked, and only then renamed into place, so an interrupted or corrupt download never looks like data.
    /// </summary>
    public sealed class MnistDownloader
    {
        private const int BufferSize = 1 << 16;

        private readonly HttpClient _http;
        private readonly IAnsiConsole _console;

        /// <summary>Creates a downloader.</summary>
        /// <param name="http">The client to download with; the caller keeps ownership.</param>
        /// <param name="console">Where progress is shown; <see cref="AnsiConsole.Console"/> when null.</param>
        /// <param name="mirrors">Base URLs to try in order; <see cref="DefaultMirrors"/> when null.</param>
        public MnistDownloader(HttpClient http, IAnsiConsole? console = null, IEnumerable<Uri>? mirrors = null)
        {
            ArgumentNullException.ThrowIfNull(http);
            _http = http;
            _console = console ?? AnsiConsole.Console;
            Mirrors = (mirrors ?? DefaultMirrors).Select(AsDirectory).ToArray();
            if (Mirrors.Count == 0) throw new ArgumentException("At least one mirror is needed.", nameof(mirrors));
        }

        /// <summary>The usual MNIST mirrors, most reliable first; the original site is the last resort.</summary>
        public static IReadOnlyList<Uri> DefaultMirrors { get; } = new[]
        {
            new Uri("https://ossci-datasets.s3.amazonaws.com/mnist/"),
            new Uri("https://storage.googleapis.com/cvdf-datasets/mnist/"),
            new Uri("http://yann.lecun.com/exdb/mnist/"),
        };

        /// <summary>The base URLs this downloader tries, in order.</summary>
        public IReadOnlyList<Uri> Mirrors { get; }

        /// <summary>Downloads every MNIST file that <paramref name="folder"/> holds under neither of its names.</summary>
        /// <param name="folder">Target folder; created when absent.</param>
        /// <param name="cancellationToken">Stops the download; the partial file is removed.</param>
        /// <returns>The full paths of the files downloaded; empty when nothing was missing.</returns>
        /// <exception cref="MnistDownloadException">No mirror delivered a file with the right checksum.</exception>
        public Task<IReadOnlyList<string>> DownloadMissingAsync(string folder, CancellationToken cancellationToken = default) =>
            DownloadAsync(MnistFile.FindMissing(folder), folder, cancellationToken);

        /// <summary>Downloads <paramref name="files"/> into <paramref name="folder"/>, replacing files of the same name.</summary>
        /// <param name="files">The files to fetch.</param>
        /// <param name="folder">Target folder; created when absent.</param>
        /// <param name="cancellationToken">Stops the download; the partial file is removed.</param>
        /// <returns>The full paths of the files downloaded.</returns>
        /// <exception cref="MnistDownloadException">No mirror delivered a file with the right checksum.</exception>
        public async Task<IReadOnlyList<string>> DownloadAsync(
            IReadOnlyList<MnistFile> files, string folder, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(files);
            ArgumentNullException.ThrowIfNull(folder);
            if (files.Count == 0) return Array.Empty<string>();

            folder = Path.GetFullPath(folder);
            Directory.CreateDirectory(folder);
            var paths = new List<string>();
            await NewProgress().StartAsync(async context =>
            {
                foreach (var file in files)
                {
                    var task = context.AddTask(Markup.Escape(file.FileName), maxValue: file.Length);
                    paths.Add(await DownloadOneAsync(file, folder, task, cancellationToken).ConfigureAwait(false));
                }
            }).ConfigureAwait(false);
            return paths;
        }

        private Progress NewProgress() =>
            _console.Progress()
                .AutoClear(false)
                .Columns(
                    new TaskDescriptionColumn(),
                    new ProgressBarColumn(),
                    new PercentageColumn(),
                    new DownloadedColumn(),
                    new TransferSpeedColumn(),
                    new RemainingTimeColumn());

        private async Task<string> DownloadOneAsync(MnistFile file, string folder, ProgressTask task, CancellationToken cancellationToken)
        {
            var target = Path.Combine(folder, file.FileName);
            var failures = new List<string>();
            foreach (var mirror in Mirrors)
            {
                var url = new Uri(mirror, file.FileName);
                var temp = Path.Combine(folder, $".{file.FileName}.{Guid.NewGuid():N}.part");
                task.Value = 0;
                try
                {
                    var md5 = await FetchAsync(url, temp, file.Length, task, cancellationToken).ConfigureAwait(false);
                    if (md5 != file.Md5)
                    {
                        Fail(failures, url, $"md5 {md5} does not match the expected {file.Md5}");
                        continue;
                    }
                    File.Move(temp, target, overwrite: true);
                    task.Value = task.MaxValue;
                    task.StopTask();
                    return target;
                }
                catch (Exception e) when (e is HttpRequestException or IOException
                                          || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    Fail(failures, url, e is OperationCanceledException ? "timed out" : e.Message);
                }
                finally
                {
                    if (File.Exists(temp)) File.Delete(temp);
                }
            }
            task.StopTask();
            throw new MnistDownloadException(file, failures);
        }

        private void Fail(List<string> failures, Uri url, string reason)
        {
            failures.Add($"{url}: {reason}");
            _console.MarkupLineInterpolated($"[yellow]{url}: {reason}[/]");
        }

        private async Task<string> FetchAsync(Uri url, string temp, long expectedLength, ProgressTask task, CancellationToken cancellationToken)
        {
            using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
            }
            var announced = response.Content.Headers.ContentLength;
            if (announced is long length && length != expectedLength)
            {
                throw new IOException($"announces {length} bytes, expected {expectedLength}");
            }

            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (source.ConfigureAwait(false))
            {
                var sink = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true);
                await using (sink.ConfigureAwait(false))
                {
                    var buffer = new byte[BufferSize];
                    long written = 0;
                    int n;
                    while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        written += n;
                        if (written > expectedLength)
                        {
                            throw new IOException($"sent more than the expected {expectedLength} bytes");
                        }
                        md5.AppendData(buffer, 0, n);
                        await sink.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                        task.Increment(n);
                    }
                    if (written != expectedLength)
                    {
                        throw new IOException($"ended after {written} of {expectedLength} bytes");
                    }
                }
            }
            return Convert.ToHexStringLower(md5.GetHashAndReset());
        }

        private static Uri AsDirectory(Uri mirror)
        {
            ArgumentNullException.ThrowIfNull(mirror);
            return mirror.AbsoluteUri.EndsWith('/') ? mirror : new Uri(mirror.AbsoluteUri + "/");
        }
    }
}
