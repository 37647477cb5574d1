
namespace MoeLayers
{
    /// <summary>Creates MoE layers from named, validated options registered in dependency injection.</summary>
    public interface IMoeLayerFactory
    {
        /// <summary>Creates a new layer (fresh parameters) from the options registered under <paramref name="optionsName"/>.</summary>
        /// <param name="optionsName">Options name; null or empty for the default options.</param>
        /// <param name="moduleName">Module name of the created layer.</param>
        MoeLayer Create(string? optionsName = null, string moduleName = "moe");
    }
}
