using System;
using System.Linq;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MoeLayers
{
    /// <summary>Registers MoE layer options (bound, validated on start) and <see cref="IMoeLayerFactory"/>.</summary>
    public static class MoeServiceCollectionExtensions
    {
        /// <summary>Binds the default <see cref="MoeLayerOptions"/> to a configuration section (e.g. "Moe" in appsettings.json).</summary>
        /// <remarks>
        /// When the options are first read (on start, through ValidateOnStart), a section that is missing or empty fails
        /// with an <see cref="OptionsValidationException"/> that names its path, instead of the field failures (InputDim
        /// must be at least 1, ...) that binding nothing would give.
        /// </remarks>
        /// <param name="services">The service collection.</param>
        /// <param name="section">The configuration section holding the options' fields.</param>
        public static IServiceCollection AddMoeLayers(this IServiceCollection services, IConfiguration section) =>
            services.AddMoeLayers(Options.DefaultName, section);

        /// <summary>Binds named <see cref="MoeLayerOptions"/> to a configuration section.</summary>
        /// <remarks>A missing or empty section fails on start naming its path, before any field is validated.</remarks>
        /// <param name="services">The service collection.</param>
        /// <param name="name">Options name, passed later to <see cref="IMoeLayerFactory.Create"/>.</param>
        /// <param name="section">The configuration section holding the options' fields.</param>
        public static IServiceCollection AddMoeLayers(this IServiceCollection services, string name, IConfiguration section)
        {
            ArgumentNullException.ThrowIfNull(section);
            // Checked when the options are built, not here: the configuration may still gain the section (reload,
            // providers added later). Throwing from this first configure step keeps MoeLayerOptionsValidator's
            // messages about unset fields, which would only be noise, out of the report.
            AddCore(services).AddOptions<MoeLayerOptions>(name)
                .Configure(_ => ThrowIfMissing(name, section))
                .Bind(section)
                .ValidateOnStart();
            return services;
        }

        /// <summary>Configures the default <see cref="MoeLayerOptions"/> in code.</summary>
        /// <param name="services">The service collection.</param>
        /// <param name="configure">Sets the options' fields.</param>
        public static IServiceCollection AddMoeLayers(this IServiceCollection services, Action<MoeLayerOptions> configure)
        {
            ArgumentNullException.ThrowIfNull(configure);
            AddCore(services).AddOptions<MoeLayerOptions>().Configure(configure).ValidateOnStart();
            return services;
        }

        private static void ThrowIfMissing(string name, IConfiguration section)
        {
            var options = string.IsNullOrEmpty(name) ? nameof(MoeLayerOptions) : $"{nameof(MoeLayerOptions)} '{name}'";
            string failure;
            if (section is IConfigurationSection named)
            {
                if (named.Exists()) return;
                // The JSON a user would add, nested along the path: "Models": { "Moe": { ... } }.
                var json = named.Path.Split(':').AsEnumerable().Reverse()
                    .Aggregate("{ \"InputDim\": 512, \"HiddenDim\": 2048 }", (inner, key) => $"{{ \"{key}\": {inner} }}");
                failure = $"{options}: the configuration section '{named.Path}' is missing or empty, so no field was bound. Add it with at least "
                          + $"InputDim and HiddenDim (appsettings.json: {json}), or pass the section that holds the options.";
            }
            else
            {
                if (section.GetChildren().Any()) return;
                failure = $"{options}: the configuration is empty, so no field was bound; it needs at least InputDim and HiddenDim.";
            }
            throw new OptionsValidationException(name, typeof(MoeLayerOptions), new[] { failure });
        }

        private static IServiceCollection AddCore(IServiceCollection services)
        {
            ArgumentNullException.ThrowIfNull(services);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MoeLayerOptions>, MoeLayerOptionsValidator>());
            services.TryAddSingleton<IMoeLayerFactory, MoeLayerFactory>();
            return services;
        }
    }
}
