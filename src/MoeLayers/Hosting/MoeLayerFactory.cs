using Microsoft.Extensions.Options;

namespace MoeLayers
{
    /// <summary>Default <see cref="IMoeLayerFactory"/>: reads options through <see cref="IOptionsMonitor{TOptions}"/>.</summary>
    internal sealed class MoeLayerFactory(IOptionsMonitor<MoeLayerOptions> options) : IMoeLayerFactory
    {
        public MoeLayer Create(string? optionsName = null, string moduleName = "moe") =>
            Moe.Create(options.Get(string.IsNullOrEmpty(optionsName) ? Options.DefaultName : optionsName), moduleName);
    }
}
