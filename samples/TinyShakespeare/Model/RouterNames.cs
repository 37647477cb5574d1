using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// Command-line names of the library's routers, derived from <see cref="RouterKind"/> so every router the library
    /// gains is accepted and compared without changes here, plus the layer styles (<see cref="LayerStyle"/>) built on
    /// the top-k router: deepseek and qwen.
    /// </summary>
    public static class RouterNames
    {
        /// <summary>
        /// Why expert choice is refused in this causal model: the sentence the command line prints, and the run header's
        /// warning when it is accepted anyway.
        /// </summary>
        public const string ExpertChoiceLeak =
            "expert choice lets each expert pick its top tokens among all tokens of the batch, so whether a token is processed, " +
            "and with what weight, depends on later tokens of its own sequence: a causal language model trained with it sees the " +
            "future, and its losses are not comparable with those of the causal routers";

        private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
        {
            ["aoe"] = "autonomyofexperts",
            ["ec"] = "expertchoice",
        };

        /// <summary>Every router kind of the library, in enum order.</summary>
        public static IReadOnlyList<RouterKind> All => Enum.GetValues<RouterKind>();

        /// <summary>The routers that keep a decoder causal (everything but expert choice).</summary>
        public static IReadOnlyList<RouterKind> Causal => All.Where(k => !LeaksFutureTokens(k)).ToArray();

        /// <summary>The layer styles beyond the plain layer, in enum order.</summary>
        public static IReadOnlyList<LayerStyle> Styles => Enum.GetValues<LayerStyle>().Where(s => s != LayerStyle.Plain).ToArray();

        /// <summary>Every causal router as a plain layer, then every layer style: what <c>compare</c> trains by default.</summary>
        public static IReadOnlyList<RouterChoice> CausalChoices =>
            Causal.Select(k => new RouterChoice(k)).Concat(Styles.Select(s => new RouterChoice(RouterKind.TopK, s))).ToArray();

        /// <summary><see cref="CausalChoices"/> and the routers that leak the future (expert choice).</summary>
        public static IReadOnlyList<RouterChoice> AllChoices =>
            CausalChoices.Concat(All.Where(LeaksFutureTokens).Select(k => new RouterChoice(k))).ToArray();

        /// <summary>
        /// Expert choice lets each expert pick its top tokens among all tokens of the batch, so whether an early token
        /// is processed depends on later tokens: training with it leaks the future and its losses are not comparable.
        /// </summary>
        public static bool LeaksFutureTokens(RouterKind kind) => kind == RouterKind.ExpertChoice;

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
            string.Join(", ", CausalChoices.Select(c => c.Name == "autonomy-of-experts" ? "autonomy-of-experts (aoe)" : c.Name)) + ". " +
            "deepseek = sigmoid top-k with an aux-loss-free bias and a shared expert; qwen = softmax top-k with a gated shared " +
            "expert; both fine-grained, at the plain layer's active and total expert width. " +
            $"{string.Join(", ", All.Where(LeaksFutureTokens).Select(k => $"{Display(k)} (ec)"))} is refused unless --allow-future-leak is given, " +
            $"because {ExpertChoiceLeak}.";

        /// <summary>Parses a router name (not a style), ignoring case, dashes, underscores and spaces.</summary>
        /// <param name="name">For example "noisy-top-k", "NoisyTopK", "switch" or "aoe".</param>
        /// <param name="allowFutureLeak">Accept expert choice although it leaks future tokens.</param>
        /// <exception cref="ArgumentException">Unknown name, a style name, or expert choice without the opt-in.</exception>
        public static RouterKind Parse(string name, bool allowFutureLeak = false)
        {
            var choice = ParseChoice(name, allowFutureLeak);
            if (choice.Style != LayerStyle.Plain)
                throw new ArgumentException($"'{name}' is a layer style, not a router; it uses the top-k router.", nameof(name));
            return choice.Router;
        }

        /// <summary>Parses a router or layer-style name, ignoring case, dashes, underscores and spaces.</summary>
        /// <param name="name">For example "noisy-top-k", "switch", "aoe", "deepseek" or "qwen".</param>
        /// <param name="allowFutureLeak">Accept expert choice although it leaks future tokens.</param>
        /// <exception cref="ArgumentException">Unknown name, or expert choice without the opt-in (the message says why).</exception>
        public static RouterChoice ParseChoice(string name, bool allowFutureLeak = false)
        {
            ArgumentNullException.ThrowIfNull(name);
            var key = Normalize(name);
            if (Aliases.TryGetValue(key, out var aliased)) key = aliased;
            foreach (var style in Styles)
            {
                if (Normalize(LayerStyles.Display(style)) == key) return new RouterChoice(RouterKind.TopK, style);
            }
            foreach (var kind in All)
            {
                if (Normalize(kind.ToString()) != key) continue;
                if (LeaksFutureTokens(kind) && !allowFutureLeak)
                    throw new ArgumentException(
                        $"router '{name}' is refused: {ExpertChoiceLeak}. Pass --allow-future-leak to train it anyway " +
                        "(non-causal layers, no balance loss; the run is marked as not comparable).", nameof(name));
                return new RouterChoice(kind);
            }
            throw new ArgumentException(
                $"router '{name}' is unknown; expected one of {string.Join(", ", CausalChoices.Select(c => c.Name))}.", nameof(name));
        }

        private static string Normalize(string name) =>
            new(name.Where(c => c != '-' && c != '_' && !char.IsWhiteSpace(c)).Select(char.ToLowerInvariant).ToArray());
    }
}
