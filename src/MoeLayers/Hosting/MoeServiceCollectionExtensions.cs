using System;
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
        /// <param name="services">The service collection.</param>
        /// <param name="section">The configuration section holding the options' fields.</param>
        public static IServiceCollection AddMoeLayers(this IServiceCollection services, IConfiguration section) =>
            services.AddMoeLayers(Options.DefaultName, section);

        /// <summary>Binds named <see cref="MoeLayerOptions"/> to a configuration section.</summary>
        /// <param name="services">The service collection.</param>
        /// <param name="name">Options name, passed later to <see cref="IMoeLayerFactory.Create"/>.</param>
        /// <param name="section">The configuration section holding the options' fields.</param>
        public static IServiceCollection AddMoeLayers(this IServiceCollection services, string name, IConfiguration section)
        {
            ArgumentNullException.ThrowIfNull(section);
            AddCore(services).AddOptions<MoeLayerOptions>(name).Bind(section).ValidateOnStart();
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

        private static IServiceCollection AddCore(IServiceCollection services)
        {
            ArgumentNullException.ThrowIfNull(services);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MoeLayerOptions>, MoeLayerOptionsValidator>());
            services.TryAddSingleton<IMoeLayerFactory, MoeLayerFactory>();
            return services;
        }
    }
}
