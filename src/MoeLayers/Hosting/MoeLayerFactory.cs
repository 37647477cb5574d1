using Microsoft.Extensions.Options;

namespace MoeLayers
{
    /// <summary>Default <see cref="IMoeLayerFactory"/>: reads options through <see cref="IOptionsMonitor{TOptions}"/>.</summary>
    internal sealed class MoeLayerFactory : IMoeLayerFactory
    {
        private readonly IOptionsMonitor<MoeLayerOptions> _options;

        public MoeLayerFactory(IOptionsMonitor<MoeLayerOptions> options)
        {
            _options = options;
        }

        public MoeLayer Create(string? optionsName = null, string moduleName = "moe") =>
            Moe.Create(_options.Get(string.IsNullOrEmpty(optionsName) ? Options.DefaultName : optionsName), moduleName);
    }
}
