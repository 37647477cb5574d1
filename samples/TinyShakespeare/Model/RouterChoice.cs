namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>One value of <c>--router</c>: a router of the library and the layer style built around it.</summary>
    /// <param name="Router">The routing rule.</param>
    /// <param name="Style">The layer recipe; the DeepSeek and Qwen styles use the top-k router.</param>
    public readonly record struct RouterChoice(RouterKind Router, LayerStyle Style = LayerStyle.Plain)
    {
        /// <summary>The command-line name: the style's (deepseek, qwen) or the router's (top-k, noisy-top-k, ...).</summary>
        public string Name => Style == LayerStyle.Plain ? RouterNames.Display(Router) : LayerStyles.Display(Style);

        /// <summary>The choice a model configuration was built from.</summary>
        public static RouterChoice Of(ModelConfig config) => new(config.Router, config.Style);

        /// <inheritdoc />
        public override string ToString() => Name;
    }
}
