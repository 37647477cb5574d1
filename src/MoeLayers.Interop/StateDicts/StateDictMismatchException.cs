using System;
using System.Collections.Generic;
using System.Linq;

namespace MoeLayers.Interop
{
    /// <summary>
    /// A file's tensors do not match the module or state dict they should load into. Thrown after validating every key
    /// and before modifying anything: the target is exactly as it was. <see cref="Problems"/> lists every disagreement.
    /// </summary>
    public sealed class StateDictMismatchException : Exception
    {
        /// <summary>Creates the exception from the problems found.</summary>
        /// <param name="filePath">The file being loaded.</param>
        /// <param name="problems">Every disagreement found (at least one).</param>
        public StateDictMismatchException(string filePath, IReadOnlyList<StateDictProblem> problems)
            : base(Describe(filePath, problems))
        {
            FilePath = filePath;
            Problems = problems;
        }

        /// <summary>The file being loaded.</summary>
        public string FilePath { get; }

        /// <summary>Every disagreement found, in the order keys were checked.</summary>
        public IReadOnlyList<StateDictProblem> Problems { get; }

        private static string Describe(string filePath, IReadOnlyList<StateDictProblem> problems)
        {
            ArgumentNullException.ThrowIfNull(problems);
            const int shown = 20;
            var lines = problems.Take(shown).Select(p => "  " + p);
            var more = problems.Count > shown ? $"{Environment.NewLine}  ... and {problems.Count - shown} more" : "";
            return $"cannot load '{filePath}': {problems.Count} problem(s); nothing was modified.{Environment.NewLine}"
                   + string.Join(Environment.NewLine, lines) + more;
        }
    }
}
