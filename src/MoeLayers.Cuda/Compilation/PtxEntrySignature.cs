using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace MoeLayers.Cuda
{
    /// <summary>
    /// The entry point of a PTX module as the driver will call it: its name and the (size, alignment) of each parameter.
    /// The CUDA launcher packs arguments by <see cref="KernelParameter"/>; checking that against the PTX that ILGPU
    /// generated catches any change in ILGPU's parameter layout before a launch could read garbage.
    /// </summary>
    /// <param name="Name">The .entry name.</param>
    /// <param name="Parameters">Size and alignment in bytes of each parameter, in order.</param>
    internal sealed record PtxEntrySignature(string Name, IReadOnlyList<(int Size, int Alignment)> Parameters)
    {
        private static readonly Regex Entry = new(@"\.entry\s+(?<name>[A-Za-z_$][\w$]*)\s*\((?<params>[^)]*)\)", RegexOptions.Compiled);
        private static readonly Regex Array = new(@"^\.param\s+\.align\s+(?<align>\d+)\s+\.b8\s+[\w$]+\[(?<size>\d+)\]$", RegexOptions.Compiled);
        private static readonly Regex Scalar = new(@"^\.param\s+\.[bsuf](?<bits>8|16|32|64)\s+[\w$]+$", RegexOptions.Compiled);

        /// <summary>Parses the single .entry of a PTX module.</summary>
        /// <param name="ptx">PTX text.</param>
        public static PtxEntrySignature Parse(string ptx)
        {
            var matches = Entry.Matches(ptx);
            if (matches.Count != 1) throw new FormatException($"Expected exactly one .entry in the PTX module; found {matches.Count}.");
            var match = matches[0];
            var parameters = new List<(int, int)>();
            foreach (var raw in match.Groups["params"].Value.Split(',').Select(p => p.Trim()).Where(p => p.Length > 0))
            {
                var text = Regex.Replace(raw, @"\s+", " ");
                var array = Array.Match(text);
                if (array.Success)
                {
                    parameters.Add((int.Parse(array.Groups["size"].Value, CultureInfo.InvariantCulture), int.Parse(array.Groups["align"].Value, CultureInfo.InvariantCulture)));
                    continue;
                }
                var scalar = Scalar.Match(text);
                if (!scalar.Success) throw new FormatException($"Unrecognized PTX parameter declaration '{raw}'.");
                var bytes = int.Parse(scalar.Groups["bits"].Value, CultureInfo.InvariantCulture) / 8;
                parameters.Add((bytes, bytes));
            }
            return new PtxEntrySignature(match.Groups["name"].Value, parameters);
        }

        /// <summary>Null when the launcher's packing of <paramref name="kernel"/> matches this entry, else the difference.</summary>
        /// <param name="kernel">The kernel the PTX was generated from.</param>
        public string? Mismatch(KernelDefinition kernel)
        {
            if (Parameters.Count != kernel.Parameters.Count)
                return $"{kernel.Name}: the PTX entry {Name} has {Parameters.Count} parameters, the launcher packs {kernel.Parameters.Count}.";
            for (var i = 0; i < Parameters.Count; i++)
            {
                var expected = kernel.Parameters[i];
                var (size, alignment) = Parameters[i];
                if (size != expected.ByteSize || alignment != expected.Alignment)
                    return $"{kernel.Name}: parameter {expected.Name} is {size} bytes aligned to {alignment} in the PTX, "
                           + $"but the launcher packs {expected.ByteSize} bytes aligned to {expected.Alignment}.";
            }
            return null;
        }
    }
}
