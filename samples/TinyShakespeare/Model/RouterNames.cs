using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// Command-line names of the library's routers, derived from <see cref="RouterKind"/> so every router the library
    /// gains (Autonomy-of-Experts, expert choice) is accepted and compared without changes here.
    /// </summary>
    public static class RouterNames
    {
        /// <summary>The enum member name of expert-choice routing, which the library does not have yet.</summary>
        public const string ExpertChoiceMember = "ExpertChoice";

        private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
        {
            ["aoe"] = "autonomyofexperts",
            ["ec"] = "expertchoice",
        };

        /// <summary>Every router kind of the library, in enum order.</summary>
        public static IReadOnlyList<RouterKind> All => Enum.GetValues<RouterKind>();

        /// <summary>The routers that keep a decoder causal (everything but expert choice).</summary>
        public static IReadOnlyList<RouterKind> Causal => All.Where(k => !LeaksFutureTokens(k)).ToArray();

        /// <summary>
        /// Expert choice lets each expert pick its top tokens among all tokens of the batch, so whether an early token
        /// is processed depends on later tokens: training with it leaks the future and its losses are not comparable.
        /// </summary>
        public static bool LeaksFutureTokens(RouterKind kind) => kind.ToString() == ExpertChoiceMember;

        /// <summary>The kebab-case name: TopK → top-k, NoisyTopK → noisy-top-k, AutonomyOfExperts → autonomy-of-experts.</summary>
        public static string Display(RouterKind kind)
        {
            var name = kind.ToString();
            var builder = new StringBuilder(name.Length + 4);
            for (var i = 0; i < name.Length; i++)
            {
                if (i > 0 && char.IsUpper(name[i])) builder.Append('-');
                builder.Append(char.ToLowerInvariant(name[i]));
            }
            return builder.ToString();
        }

        /// <summary>Experts per token a router uses when none is asked for: Switch routes to one expert, the others to the preset's k.</summary>
        public static int DefaultTopK(RouterKind kind, int presetTopK) => kind == RouterKind.Switch ? 1 : presetTopK;

        /// <summary>Help text listing the accepted names.</summary>
        public static string Help =>
            $"{string.Join(", ", Causal.Select(Display))}" +
            (All.Any(LeaksFutureTokens) ? $", {Display(All.First(LeaksFutureTokens))} (needs --allow-future-leak)" : "") +
            (All.Any(k => k.ToString() == "AutonomyOfExperts") ? " (aoe for short)" : "") +
            ". Expert choice: " + (All.Any(LeaksFutureTokens)
                ? "it leaks future tokens in a causal model, so it needs --allow-future-leak."
                : "the library has no expert-choice router yet (it would leak future tokens in this causal model anyway).");

        /// <summary>Parses a router name, ignoring case, dashes, underscores and spaces.</summary>
        /// <param name="name">For example "noisy-top-k", "NoisyTopK", "switch" or "aoe".</param>
        /// <param name="allowFutureLeak">Accept expert choice although it leaks future tokens.</param>
        /// <exception cref="ArgumentException">Unknown name, a router the library lacks, or expert choice without the opt-in.</exception>
        public static RouterKind Parse(string name, bool allowFutureLeak = false)
        {
            ArgumentNullException.ThrowIfNull(name);
            var key = Normalize(name);
            if (Aliases.TryGetValue(key, out var aliased)) key = aliased;
            foreach (var kind in All)
            {
                if (Normalize(kind.ToString()) != key) continue;
                if (LeaksFutureTokens(kind) && !allowFutureLeak)
                    throw new ArgumentException(
                        $"router '{name}': expert choice lets each expert pick tokens from the whole batch, so a token's output " +
                        "depends on later tokens and a causal model can cheat. Pass --allow-future-leak to train it anyway.", nameof(name));
                return kind;
            }
            if (key == Normalize(ExpertChoiceMember))
                throw new ArgumentException(
                    $"router '{name}': the MoeLayers library has no expert-choice router yet (and it would leak future tokens in " +
                    "this causal model). Available: " + string.Join(", ", Causal.Select(Display)) + ".", nameof(name));
            if (key == "autonomyofexperts")
                throw new ArgumentException(
                    $"router '{name}': this build of the MoeLayers library has no Autonomy-of-Experts layer yet. Available: " +
                    string.Join(", ", Causal.Select(Display)) + ".", nameof(name));
            throw new ArgumentException(
                $"router '{name}' is unknown; expected one of {string.Join(", ", Causal.Select(Display))}.", nameof(name));
        }

        private static string Normalize(string name) =>
            new(name.Where(c => c != '-' && c != '_' && !char.IsWhiteSpace(c)).Select(char.ToLowerInvariant).ToArray());
    }
}
