using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MoeLayers.Samples.Mnist.Cli
{
    /// <summary>Parses the command line's value lists: <c>8</c>, <c>1-10</c>, <c>1,2,3</c>, <c>1-3,8</c>, <c>0,1e-3,0.1</c>.</summary>
    public static class ValueList
    {
        /// <summary>Comma-separated integers and inclusive ranges <c>a-b</c> (a ≤ b), in the order given, without duplicates.</summary>
        /// <param name="text">The option's value.</param>
        /// <exception cref="FormatException">An item is not an integer or a range a-b with a ≤ b, or a value repeats.</exception>
        public static IReadOnlyList<int> Integers(string text)
        {
            var values = new List<int>();
            foreach (var item in Items(text))
            {
                var dash = item.IndexOf('-', 1);
                if (dash < 0)
                {
                    values.Add(ParseInt(item, text));
                    continue;
                }
                var from = ParseInt(item[..dash], text);
                var to = ParseInt(item[(dash + 1)..], text);
                if (from > to) throw new FormatException($"'{item}' in '{text}' is not a range a-b with a ≤ b.");
                for (var v = from; v <= to; v++) values.Add(v);
            }
            return Distinct(values, text);
        }

        /// <summary>Comma-separated numbers (invariant culture, e.g. <c>0,1e-3,0.01</c>), without duplicates.</summary>
        /// <param name="text">The option's value.</param>
        /// <exception cref="FormatException">An item is not a finite number, or a value repeats.</exception>
        public static IReadOnlyList<double> Numbers(string text)
        {
            var values = Items(text).Select(item =>
                double.TryParse(item, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                    ? v
                    : throw new FormatException($"'{item}' in '{text}' is not a number.")).ToList();
            return Distinct(values, text);
        }

        private static string[] Items(string text)
        {
            ArgumentNullException.ThrowIfNull(text);
            var items = text.Split(',', StringSplitOptions.TrimEntries);
            if (items.Any(string.IsNullOrEmpty)) throw new FormatException($"'{text}' has an empty item; write e.g. 1,2,3 or 1-10.");
            return items;
        }

        private static int ParseInt(string item, string text) =>
            int.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw new FormatException($"'{item}' in '{text}' is not an integer.");

        private static IReadOnlyList<T> Distinct<T>(List<T> values, string text)
        {
            var repeated = values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1);
            if (repeated is not null) throw new FormatException($"'{text}' lists {repeated.Key} more than once.");
            return values;
        }
    }
}
