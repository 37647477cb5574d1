using System.Collections.Generic;
using System.IO;
using System.Text;
using FluentAssertions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MoeLayers.Tests.Hosting
{
    /// <summary>
    /// AddMoeLayers(section) with a section that is not in the configuration at all: the failure on start names the
    /// section's path instead of listing "InputDim must be at least 1" and the other fields binding nothing leaves unset.
    /// </summary>
    public class MissingSectionTests
    {
        private static IConfiguration InMemory(Dictionary<string, string?> values) =>
            new ConfigurationBuilder().AddInMemoryCollection(values).Build();

        private static IConfiguration FromJson(string json) =>
            new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

        private static OptionsValidationException StartFails(IServiceCollection services)
        {
            var validator = services.BuildServiceProvider().GetRequiredService<IStartupValidator>();
            return validator.Invoking(v => v.Validate()).Should().Throw<OptionsValidationException>().Which;
        }

        [Fact]
        public void AMissingDefaultSectionIsNamedOnStartInsteadOfItsUnsetFields()
        {
            var configuration = InMemory(new() { ["Moee:InputDim"] = "16", ["Moee:HiddenDim"] = "32" });

            var failure = StartFails(new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe")));

            failure.OptionsType.Should().Be(typeof(MoeLayerOptions));
            failure.OptionsName.Should().Be(Options.DefaultName);
            failure.Failures.Should().ContainSingle().Which.Should().Be(
                "MoeLayerOptions: the configuration section 'Moe' is missing or empty, so no field was bound. Add it with at least "
                + "InputDim and HiddenDim (appsettings.json: { \"Moe\": { \"InputDim\": 512, \"HiddenDim\": 2048 } }), or pass the section "
                + "that holds the options.");
        }

        [Fact]
        public void AMissingNestedNamedSectionIsNamedByItsFullPath()
        {
            var configuration = InMemory(new() { ["Models:Encoder:InputDim"] = "16", ["Models:Encoder:HiddenDim"] = "32" });
            var services = new ServiceCollection()
                .AddMoeLayers("encoder", configuration.GetSection("Models:Encoder"))
                .AddMoeLayers("decoder", configuration.GetSection("Models:Decoder"));

            var failure = StartFails(services);

            failure.OptionsName.Should().Be("decoder");
            failure.Failures.Should().ContainSingle().Which.Should()
                .StartWith("MoeLayerOptions 'decoder': the configuration section 'Models:Decoder' is missing or empty")
                .And.Contain("{ \"Models\": { \"Decoder\": { \"InputDim\": 512, \"HiddenDim\": 2048 } } }")
                .And.NotContain("must be at least 1");
        }

        [Fact]
        public void AnEmptyJsonObjectCountsAsMissing()
        {
            var configuration = FromJson("""{ "Moe": { } }""");

            var failure = StartFails(new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe")));

            failure.Failures.Should().ContainSingle().Which.Should().Contain("'Moe' is missing or empty");
        }

        [Fact]
        public void ReadingTheOptionsOutsideStartupValidationReportsTheSameSection()
        {
            var services = new ServiceCollection().AddMoeLayers("aoe", InMemory(new()).GetSection("Aoe")).BuildServiceProvider();

            var read = () => services.GetRequiredService<IOptionsMonitor<MoeLayerOptions>>().Get("aoe");

            read.Should().Throw<OptionsValidationException>().Which.Failures.Should().ContainSingle()
                .Which.Should().Contain("'Aoe' is missing or empty");
        }

        [Fact]
        public void APresentSectionWithBadFieldsStillReportsEachField()
        {
            var configuration = InMemory(new() { ["Moe:InputDim"] = "0", ["Moe:HiddenDim"] = "32" });

            var failure = StartFails(new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe")));

            failure.Failures.Should().Equal("MoeLayerOptions.InputDim must be at least 1; got 0.");
        }

        [Fact]
        public void ASectionAddedAfterRegistrationIsBound()
        {
            var values = new Dictionary<string, string?>();
            var builder = new ConfigurationBuilder().AddInMemoryCollection(values);
            var configuration = builder.Build();
            var services = new ServiceCollection().AddMoeLayers(configuration.GetSection("Moe"));
            configuration["Moe:InputDim"] = "8";
            configuration["Moe:HiddenDim"] = "16";

            var provider = services.BuildServiceProvider();
            provider.GetRequiredService<IStartupValidator>().Validate();

            provider.GetRequiredService<IOptions<MoeLayerOptions>>().Value.InputDim.Should().Be(8);
        }

        [Fact]
        public void AnEmptyConfigurationRootIsReportedAsEmpty()
        {
            var failure = StartFails(new ServiceCollection().AddMoeLayers(InMemory(new())));

            failure.Failures.Should().ContainSingle().Which.Should()
                .Be("MoeLayerOptions: the configuration is empty, so no field was bound; it needs at least InputDim and HiddenDim.");
        }
    }
}
