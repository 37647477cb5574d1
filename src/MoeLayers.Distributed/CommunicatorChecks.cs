using System;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace MoeLayers.Distributed
{
    /// <summary>Collective checks and small gathers built on <see cref="ICommunicator.AllGatherBytes"/>, for any communicator.</summary>
    public static class CommunicatorChecks
    {
        /// <summary>
        /// Collective: every rank passes its own <paramref name="value"/> (e.g. the serialized options of a layer); when
        /// they are not all equal, every rank throws the same <see cref="CommunicatorMismatchException"/> naming which ranks
        /// hold which value (the first 8 bytes of its SHA-256, as only the hashes travel).
        /// </summary>
        /// <param name="communicator">The communicator.</param>
        /// <param name="description">What the value is, for the message (e.g. "MoE layer options"); need not agree.</param>
        /// <param name="value">This rank's value; any length.</param>
        public static void CheckSameOnAllRanks(this ICommunicator communicator, string description, ReadOnlySpan<byte> value)
        {
            if (communicator is null) throw new ArgumentNullException(nameof(communicator));
            var hashes = communicator.AllGatherBytes(SHA256.HashData(value));
            var reports = hashes.Select(h => $"SHA-256 {Convert.ToHexString(h, 0, Math.Min(8, h.Length)).ToLowerInvariant()}…").ToArray();
            Throw(description, reports);
        }

        /// <summary>
        /// Collective: as <see cref="CheckSameOnAllRanks(ICommunicator, string, ReadOnlySpan{byte})"/> for a text value, whose
        /// text (up to 240 characters per rank) appears in the message. The texts travel in full: keep them small (a line of
        /// options, not a checkpoint).
        /// </summary>
        /// <param name="communicator">The communicator.</param>
        /// <param name="description">What the value is, for the message (e.g. "MoE layer options"); need not agree.</param>
        /// <param name="value">This rank's value.</param>
        public static void CheckSameOnAllRanks(this ICommunicator communicator, string description, string value)
        {
            if (communicator is null) throw new ArgumentNullException(nameof(communicator));
            if (value is null) throw new ArgumentNullException(nameof(value));
            var texts = communicator.AllGatherBytes(Encoding.UTF8.GetBytes(value));
            Throw(description, texts.Select(t => "\"" + Encoding.UTF8.GetString(t) + "\"").ToArray());
        }

        /// <summary>Collective: every rank's <paramref name="value"/>, indexed by rank.</summary>
        /// <param name="communicator">The communicator.</param>
        /// <param name="value">This rank's value.</param>
        public static long[] AllGather(this ICommunicator communicator, long value)
        {
            if (communicator is null) throw new ArgumentNullException(nameof(communicator));
            var all = communicator.AllGatherBytes(BitConverter.GetBytes(value));
            return all.Select(b => b.Length == sizeof(long)
                    ? BitConverter.ToInt64(b, 0)
                    : throw new CommunicatorMismatchException("AllGather", $"AllGather(long): a rank sent {b.Length} bytes instead of 8.", Array.Empty<int>()))
                .ToArray();
        }

        private static void Throw(string description, string[] reports)
        {
            var mismatch = Agreement.Compare($"CheckSameOnAllRanks({description})", reports, new bool[reports.Length],
                $"Every rank must use the same {description}.");
            if (mismatch != null) throw mismatch;
        }
    }
}
