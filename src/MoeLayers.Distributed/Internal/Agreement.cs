using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace MoeLayers.Distributed
{
    /// <summary>
    /// Turns what every rank reported about its arguments into one verdict, computed identically on every rank (they all
    /// hold the same reports), so that every rank throws the same message or none does.
    /// </summary>
    internal static class Agreement
    {
        /// <summary>Longest text of one rank's report kept in a message.</summary>
        public const int MaxReportChars = 240;

        /// <summary>
        /// Null when every rank reported the same description and none reported an error; otherwise the exception, naming
        /// each group of ranks and its description.
        /// </summary>
        /// <param name="operation">The collective or check, e.g. "AllToAll".</param>
        /// <param name="reports">Each rank's description of its arguments (or of its error), indexed by rank.</param>
        /// <param name="invalid">Whether each rank's report is an error rather than a description.</param>
        /// <param name="rule">What must agree, appended to the message.</param>
        public static CommunicatorMismatchException? Compare(string operation, IReadOnlyList<string> reports, IReadOnlyList<bool> invalid, string rule)
        {
            if (reports.Count != invalid.Count) throw new ArgumentException("One report and one flag per rank are needed.", nameof(invalid));
            var anyInvalid = invalid.Any(x => x);
            if (!anyInvalid && reports.Distinct(StringComparer.Ordinal).Count() <= 1) return null;

            // Groups of ranks with the same report, in order of their lowest rank.
            var groups = Enumerable.Range(0, reports.Count)
                .GroupBy(r => (invalid[r], reports[r]))
                .Select(g => (Invalid: g.Key.Item1, Report: g.Key.Item2, Ranks: g.ToArray()))
                .OrderBy(g => g.Ranks[0])
                .ToList();
            var valid = groups.Where(g => !g.Invalid).ToList();
            var majority = valid.Count == 0 ? Array.Empty<int>() : valid.OrderByDescending(g => g.Ranks.Length).ThenBy(g => g.Ranks[0]).First().Ranks;
            var differing = Enumerable.Range(0, reports.Count).Where(r => Array.IndexOf(majority, r) < 0).ToArray();

            var text = new StringBuilder(operation).Append(": the ranks' arguments do not agree: ");
            for (var i = 0; i < groups.Count; i++)
            {
                if (i > 0) text.Append("; ");
                var g = groups[i];
                text.Append(RankList(g.Ranks)).Append(g.Invalid ? " reported an error: " : ": ").Append(Clip(g.Report));
            }
            text.Append(". ").Append(rule);
            return new CommunicatorMismatchException(operation, text.ToString(), differing);
        }

        /// <summary>"rank 3" or "ranks 0, 1, 2".</summary>
        public static string RankList(IReadOnlyList<int> ranks) => (ranks.Count == 1 ? "rank " : "ranks ") + string.Join(", ", ranks);

        /// <summary>The text, cut to <see cref="MaxReportChars"/> characters with an ellipsis.</summary>
        public static string Clip(string text) => text.Length <= MaxReportChars ? text : text.Substring(0, MaxReportChars) + "…";
    }
}
